/**
 * A chat client's realtime link (SPEC §5, §9): the WebSocket while one opens, long-poll rounds while
 * it cannot, reconnecting with backoff; what the room pushes, merged into the copy; and a send over
 * the socket under the same protocol as over HTTP.
 */
import { Connections } from "./connection.ts";
import { asChatError, LiveChatError } from "./http.ts";
import { rebuildRequestOf } from "./rebuild.ts";
import { SocketClosed, SocketSession } from "./socket-session.ts";
import type { ServerFrame } from "../src/protocol/wire.ts";
import type { ChatCopy } from "./chat-copy.ts";
import type { ChatHttp } from "./http.ts";
import type { Rebuilder } from "./rebuild.ts";
import type { OpenSocket } from "./socket-session.ts";
import type { OutboxItem } from "./store.ts";

export class Realtime {
	session: SocketSession | undefined;
	private readonly connections = new Connections();

	constructor(
		private readonly copy: ChatCopy,
		private readonly rebuilder: Rebuilder,
		private readonly http: ChatHttp,
		/** The chat's path below the deployment, `/v1/sites/…/chats/…`. */
		private readonly chatPath: string,
		private readonly openSocket: OpenSocket | undefined,
		/** The client's own calls, which the link makes when it has no socket, and after it opened one. */
		private readonly client: {
			poll(waitSeconds: number): Promise<unknown>;
			flush(): Promise<void>;
		}
	) {}

	/** Resolves once the first connection is made. At most one socket is open at a time. */
	connect(): Promise<void> {
		const connection = this.connections.start();
		if (connection === undefined) return Promise.resolve();
		return new Promise(
			(resolve) => void this.stayConnected(connection, resolve)
		);
	}

	disconnect(): void {
		this.connections.stop();
		this.session?.close();
		this.session = undefined;
	}

	get state(): "websocket" | "long-poll" | "off" {
		return !this.connections.connected
			? "off"
			: this.session && !this.session.closed
				? "websocket"
				: "long-poll";
	}

	private async stayConnected(
		connection: number,
		ready: () => void
	): Promise<void> {
		const live = () => this.connections.live(connection);
		let failures = 0;
		while (live()) {
			const opened = this.openSocket
				? await this.openSession(connection)
				: undefined;
			if (opened) {
				failures = 0;
				ready();
				await opened.closed;
				continue;
			}
			if (!live()) break;
			failures++;
			ready();
			// No socket now: one long-poll round (shorter while a socket may come back), then try again.
			try {
				await this.client.poll(
					this.openSocket ? Math.min(25, 2 ** failures) : 25
				);
				if (this.copy.outbox.length > 0) await this.client.flush();
			} catch (error) {
				// Retrying a refusal would only repeat it every few seconds for as long as the page is open.
				if (refusedAccess(error)) {
					this.disconnect();
					this.copy.tell({
						type: "refused",
						error: { type: error.type, message: error.message },
					});
					break;
				}
				await sleep(Math.min(10_000, 250 * 2 ** failures));
			}
		}
		ready();
	}

	/**
	 * Opens the socket and says hello; `closed` settles when the socket closes. A socket that fails
	 * on the way, or that opens after disconnect(), is closed at once.
	 */
	private async openSession(
		connection: number
	): Promise<{ closed: Promise<void> } | undefined> {
		const baseUrl = this.http.baseUrl;
		const url = `${baseUrl.replace(/^http/, "ws")}${this.chatPath}/ws`;
		let onClose!: () => void;
		const closed = new Promise<void>((resolve) => (onClose = resolve));
		let session: SocketSession | undefined;
		const live = () => this.connections.live(connection);
		try {
			// What the socket pushes is that deployment's version: after a move it calls for a re-read like any answer.
			const fromSocket = (f: ServerFrame) => {
				if (f.type === "message" || f.type === "sync")
					this.rebuilder.notedServer(baseUrl);
				this.pushed(f);
			};
			session = await SocketSession.open(
				this.openSocket!,
				url,
				fromSocket,
				() => {
					if (this.session === session) this.session = undefined;
					onClose();
				}
			);
			if (!live()) throw new SocketClosed("disconnected");
			const reply = await session.hello({
				token: this.copy.chat.token,
				...(await this.copy.position()),
			});
			if (!live()) throw new SocketClosed("disconnected");
			this.session = session;
			this.rebuilder.notedServer(baseUrl);
			if (reply.type === "sync") this.copy.absorb(reply);
			const rebuild = rebuildRequestOf(reply);
			if (rebuild) await this.rebuilder.rebuild(rebuild);
			else if (this.rebuilder.rereadOwed) await this.rebuilder.rereadAll();
			if (session.closed) throw new SocketClosed("socket closed");
			void this.copy.persist();
			void this.client.flush().catch(() => undefined);
			return { closed };
		} catch {
			session?.close();
			return undefined;
		}
	}

	/** Frames the room sends unasked. */
	private pushed(frame: ServerFrame): void {
		const copy = this.copy;
		switch (frame.type) {
			case "message":
				return copy.absorbAndSave({ messages: [frame.message] });
			case "ack":
				return copy.absorbAndSave({ messages: copy.ownMessage(frame) });
			case "sync":
				return copy.absorbAndSave(frame);
			case "state":
				return copy.absorbAndSave({ ...frame, messages: [] });
			case "rebuild":
				void this.rebuilder
					.rebuild(frame)
					.then(() => this.client.flush())
					.catch(() => undefined);
				return;
			case "ended":
				copy.noteStatus("ended");
				void copy.persist();
				return copy.tell(frame);
			case "typing":
			case "read":
				return copy.tell(frame);
		}
	}

	/** A send over the socket, under the same protocol as HTTP: rebuild when asked, then again. */
	send(session: SocketSession, item: OutboxItem): Promise<void> {
		return this.rebuilder.afterRebuilds<void>(async () => {
			const position = await this.copy.position();
			const reply = await session
				.request({ type: "send", message: item, ...position })
				.catch((error) => Promise.reject(asChatError(error, "/messages")));
			if (reply.type === "ack") {
				this.copy.absorb({ messages: this.copy.ownMessage(reply) });
				return { done: undefined };
			}
			if (reply.type === "sync") this.copy.absorb(reply);
			return { rebuild: rebuildRequestOf(reply) };
		});
	}
}

/** The room refuses this client the chat itself (a socket closed with 4403 comes back as this 403 on the poll). */
const refusedAccess = (error: unknown): error is LiveChatError =>
	error instanceof LiveChatError && error.status === 403;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
