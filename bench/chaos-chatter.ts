/**
 * The chats of a chaos run and their chatter: a visitor starts each chat and says something (by then
 * at the latest it is routable, SPEC §6); the agent side speaks through the client of the agent whose console
 * got it (chaos-consoles.ts). Each side sends a message every 1 to 3 s until the faults stop;
 * HTTP-only chats are long-polled by the run, as the widget does where sockets are blocked.
 */
import { LiveChatClient } from "../client/index.ts";
import { SITE } from "./chaos-recorder.ts";
import {
	between,
	clientState,
	errorKind,
	retry,
	sleep,
	within,
} from "./chaos-util.ts";
import { chatFetch, socketOpener, TRANSPORT } from "./chaos-wire.ts";
import type { Side } from "./chaos-check.ts";
import type { Consoles } from "./chaos-consoles.ts";
import type { Fleet } from "./chaos-fleet.ts";
import type {
	ChaosOptions,
	ChatUnderTest,
	Recorder,
} from "./chaos-recorder.ts";

const LONG_POLL_SECONDS = 4;
/** Past this, a send or poll still running after the faults stopped is left behind (and reported). */
const WIND_DOWN_MS = 90_000;

interface Loop {
	chat: ChatUnderTest;
	side: Side;
	what: "send" | "poll";
	done: Promise<void>;
}

export class Chatter {
	private readonly loops: Loop[] = [];

	constructor(
		private readonly options: ChaosOptions,
		private readonly recorder: Recorder,
		private readonly fleet: Fleet,
		private readonly consoles: Consoles,
		private readonly log: (line: string) => void
	) {}

	/** The chatter and poll loops, which end with the faults; one still running long after is reported stuck. */
	async windDown(): Promise<void> {
		const finished = new Set<Loop>();
		await within(
			Promise.all(
				this.loops.map((loop) => loop.done.then(() => finished.add(loop)))
			),
			WIND_DOWN_MS,
			""
		).catch(() => undefined);
		for (const loop of this.loops.filter((l) => !finished.has(l))) {
			this.recorder.stuck.add(loop.chat);
			const client =
				loop.side === "visitor"
					? loop.chat.clients.visitor
					: loop.chat.clients.agent;
			if (client)
				this.recorder.note(
					loop.chat,
					loop.side,
					`client state: ${clientState(client)}`
				);
			this.recorder.note(
				loop.chat,
				loop.side,
				`its ${loop.what} loop is still running ${WIND_DOWN_MS / 1000} s after the faults stopped`
			);
			this.log(
				`chat ${loop.chat.id}: the ${loop.side}'s ${loop.what} loop is still running ${WIND_DOWN_MS / 1000} s after the faults stopped`
			);
		}
	}

	startLoops(chat: ChatUnderTest, until: number): void {
		for (const side of ["visitor", "agent"] as const) {
			this.loops.push({
				chat,
				side,
				what: "send",
				done: this.talk(chat, side, until),
			});
			if (!chat.socket)
				this.loops.push({
					chat,
					side,
					what: "poll",
					done: this.pollLoop(chat, side, until),
				});
		}
	}

	/** The second half of the chats, spread over the first half of the faults: routed while they run. */
	async openLater(from: number, until: number): Promise<void> {
		const count = this.options.chats - from;
		const spacing = (until - Date.now()) / 2 / Math.max(1, count);
		for (let index = from; index < this.options.chats; index++) {
			await sleep(spacing);
			if (Date.now() >= until) return;
			try {
				this.startLoops(await this.openChat(index), until);
			} catch (error) {
				this.log(`chat ${index} could not be started: ${errorKind(error)}`);
			}
		}
	}

	/** A visitor starts the chat and says something (by then at the latest it is routable, SPEC §6); an agent's console gets it. */
	async openChat(index: number): Promise<ChatUnderTest> {
		const socket = index % 2 === 0;
		const base = (chat: ChatUnderTest) => ({
			...TRANSPORT,
			baseUrls: this.fleet.proxies.map((p) => p.url),
			siteId: SITE,
			fetch: chatFetch(this.recorder, this.fleet, chat, "visitor"),
			openSocket: socket
				? socketOpener(this.recorder, this.fleet, chat, "visitor")
				: undefined,
		});
		const chat: ChatUnderTest = {
			index,
			socket,
			id: "",
			clients: {} as ChatUnderTest["clients"],
			agentClients: new Map(),
			agentTurn: Promise.resolve(),
			transferring: false,
			sealedStates: new Map(),
			sent: { visitor: [], agent: [] },
			resolved: new Set(),
			endedOn: new Set(),
			trace: [],
		};
		const visitor = await retry(
			() =>
				LiveChatClient.startChat({
					...base(chat),
					visitor: { name: `Visitor ${index}` },
				}),
			10
		);
		chat.id = visitor.chatId;
		chat.clients.visitor = visitor;
		this.recorder.addChat(chat);
		if (visitor.chatState)
			this.recorder.observeState(chat, "visitor", "start", visitor.chatState);
		await retry(() => this.send(chat, "visitor", visitor)).catch((error) =>
			this.recorder.clientError(chat, "visitor", "send", error)
		);
		if (socket) await visitor.connect();
		return chat;
	}

	private async send(
		chat: ChatUnderTest,
		side: Side,
		client: LiveChatClient
	): Promise<void> {
		const id = crypto.randomUUID();
		const content = `chat ${chat.index} ${side} #${chat.sent[side].length + 1}`;
		chat.sent[side].push(id);
		this.recorder.note(chat, side, `send ${id} "${content}"`);
		await client.send(content, id);
		chat.resolved.add(id);
		this.recorder.note(chat, side, `send ${id} resolved`);
	}

	/** The agent side speaks through the client of the agent the chat is with; between a release and the next assignment it waits. */
	private agentSend(chat: ChatUnderTest): Promise<void> {
		if (!chat.agentId || chat.transferring) return Promise.resolve();
		return this.consoles.turn(chat, async () => {
			const client = chat.agentId && chat.agentClients.get(chat.agentId);
			if (client) await this.send(chat, "agent", client);
		});
	}

	/** A message every 1 to 3 s, at random, until the faults stop. */
	private async talk(
		chat: ChatUnderTest,
		side: Side,
		until: number
	): Promise<void> {
		for (;;) {
			await sleep(Math.min(between(1000, 3000), until - Date.now()));
			if (Date.now() >= until) return;
			try {
				if (side === "agent") await this.agentSend(chat);
				else await this.send(chat, side, chat.clients.visitor);
			} catch (error) {
				this.recorder.clientError(chat, side, "send", error);
			}
		}
	}

	/** HTTP-only chats: long-poll rounds, as the widget does where sockets are blocked. */
	private async pollLoop(
		chat: ChatUnderTest,
		side: Side,
		until: number
	): Promise<void> {
		while (Date.now() < until) {
			const client =
				side === "visitor"
					? chat.clients.visitor
					: chat.agentId && chat.agentClients.get(chat.agentId);
			if (!client) {
				await sleep(500);
				continue;
			}
			try {
				await client.poll(LONG_POLL_SECONDS);
			} catch (error) {
				this.recorder.clientError(chat, side, "poll", error);
				await sleep(500);
			}
		}
	}
}
