/**
 * The outbox's delivery: messages go out one at a time, in order, over the socket while one is open
 * and over HTTP otherwise, each under the offset protocol. A message leaves the outbox once the room
 * holds it, or when the room refuses it for good; its id makes every retry idempotent.
 */
import { SerialQueue } from "../durable-objects/serial-queue.ts";
import { jsonInit, refusedForGood } from "./http.ts";
import { SocketClosed } from "./socket-session.ts";
import type { ChatMessage } from "../src/protocol/chat.ts";
import type { ChatCopy } from "./chat-copy.ts";
import type { Realtime } from "./realtime.ts";
import type { Rebuilder } from "./rebuild.ts";
import type { OutboxItem } from "./store.ts";

export class Outbox {
	/** Sends and ends run one at a time; long-polls do not wait behind them. */
	readonly writes = new SerialQueue();

	constructor(
		private readonly copy: ChatCopy,
		private readonly rebuilder: Rebuilder,
		private readonly link: () => Realtime
	) {}

	/** Queues a message and delivers it; resolves with the message as the server accepted it. */
	async send(
		content: string,
		id: string,
		canned?: string
	): Promise<ChatMessage> {
		const { log, outbox } = this.copy;
		if (!log.get(id) && !outbox.some((m) => m.id === id))
			outbox.push(canned ? { id, content, canned } : { id, content });
		await this.copy.persist();
		try {
			await this.flush();
		} catch (error) {
			// Another message of the outbox may have failed after this one went through.
			const accepted = this.copy.log.get(id);
			if (accepted) return accepted;
			throw error;
		}
		const accepted = this.copy.log.get(id);
		if (!accepted) throw new Error(`message ${id} is still in the outbox`);
		return accepted;
	}

	/** Delivers the outbox in order. A message the server refuses for good leaves it, with the error. */
	flush(): Promise<void> {
		return this.writes.run(async () => {
			for (let item = this.copy.outbox[0]; item; item = this.copy.outbox[0]) {
				try {
					await this.deliver(item);
				} catch (error) {
					if (refusedForGood(error)) {
						this.copy.leaveOutbox(item.id);
						await this.copy.persist();
					}
					throw error;
				}
				this.copy.leaveOutbox(item.id);
				await this.copy.persist();
			}
		});
	}

	private async deliver(item: OutboxItem): Promise<void> {
		const overHttp = () =>
			this.rebuilder.call(() => ({
				path: "/messages",
				init: jsonInit("POST", item),
			}));
		const link = this.link();
		const session = link.session;
		if (!session) return void (await overHttp());
		await link.send(session, item).catch((error) => {
			if (!(error instanceof SocketClosed)) throw error;
			return overHttp(); // the socket went away: HTTP
		});
	}
}
