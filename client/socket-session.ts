/**
 * One chat's WebSocket (SPEC §5) as the client sees it: hello, one request in flight at a time
 * (a send, a rebuild chunk) with its reply, and everything the room pushes unasked.
 * Replies come in request order: the room applies a socket's writes one at a time.
 */
import { HELLO_TIMEOUT_MS, ServerFrameSchema } from "../src/protocol/wire.ts";
import type { Position } from "../src/protocol/offsets.ts";
import type { ServerFrame } from "../src/protocol/wire.ts";

export type OpenSocket = (url: string) => Promise<WebSocket>;

/** A reply to a request: what the room said, or that it wants a rebuild first. */
export type Reply =
	| Extract<ServerFrame, { type: "ack" }>
	| Extract<ServerFrame, { type: "sync" }>
	| Extract<ServerFrame, { type: "rebuild" }>;

export class SocketClosed extends Error {}
export class FrameError extends Error {
	constructor(
		readonly type: string,
		message: string,
		/** Seconds to wait before the same request may succeed (a rate limit). */
		readonly retryAfter?: number
	) {
		super(message);
	}
}

interface Pending {
	resolve(reply: Reply): void;
	reject(error: Error): void;
	/** For a send: the id whose ack answers it. */
	id?: string;
}

/** The default opener: the platform's WebSocket, resolved once it is open. */
export const openWebSocket: OpenSocket = (url) =>
	new Promise((resolve, reject) => {
		const ws = new WebSocket(url);
		ws.addEventListener("open", () => resolve(ws), { once: true });
		ws.addEventListener(
			"error",
			() => reject(new SocketClosed(`cannot open ${url}`)),
			{ once: true }
		);
	});

/** Longer than any room takes to answer a frame (a rebuild chunk of a frame's size included). */
const REQUEST_TIMEOUT_MS = 20_000;

export class SocketSession {
	private readonly queue: Pending[] = [];
	closed = false;

	private constructor(
		private readonly ws: WebSocket,
		/** Frames nobody asked for: messages of others, state, typing, a room that lost its chat. */
		private readonly onPush: (frame: ServerFrame) => void,
		/** Called once, when the room closes the socket or this side does. */
		private readonly onClose: () => void
	) {
		ws.addEventListener("message", (event) => this.receive(String(event.data)));
		ws.addEventListener("close", () => this.ended());
	}

	/** Opens the socket; the caller says hello next, and closes the session whatever goes wrong after this. */
	static async open(
		open: OpenSocket,
		url: string,
		onPush: (frame: ServerFrame) => void,
		onClose: () => void
	): Promise<SocketSession> {
		return new SocketSession(await open(url), onPush, onClose);
	}

	/** The first frame. A room that does not answer in time gets the socket closed (the room would close it too). */
	hello(
		hello: { token: string } & Position,
		timeoutMs = HELLO_TIMEOUT_MS
	): Promise<Reply> {
		return this.request({ type: "hello", ...hello }, timeoutMs);
	}

	/**
	 * A frame that the room answers. A socket can die without closing (a proxy or a network that drops
	 * it silently): a request unanswered in `timeoutMs` closes the session, so its caller goes on over HTTP.
	 */
	request(
		frame: { type: string; message?: { id: string }; [field: string]: unknown },
		timeoutMs = REQUEST_TIMEOUT_MS
	): Promise<Reply> {
		if (this.closed) return Promise.reject(new SocketClosed("socket closed"));
		const answered = new Promise<Reply>((resolve, reject) => {
			this.queue.push({ resolve, reject, id: frame.message?.id });
			this.ws.send(JSON.stringify(frame));
		});
		const timer = setTimeout(() => this.close(), timeoutMs);
		return answered.finally(() => clearTimeout(timer));
	}

	send(frame: unknown): void {
		if (!this.closed) this.ws.send(JSON.stringify(frame));
	}

	/** Closed for this side at once: nothing waits for the close handshake. */
	close(): void {
		if (this.closed) return;
		this.ws.close(1000);
		this.ended();
	}

	private ended(): void {
		if (this.closed) return;
		this.closed = true;
		for (const pending of this.queue.splice(0))
			pending.reject(new SocketClosed("socket closed"));
		this.onClose();
	}

	private receive(data: string): void {
		if (data === "pong") return;
		let json: unknown;
		try {
			json = JSON.parse(data);
		} catch {
			return;
		}
		const parsed = ServerFrameSchema.safeParse(json);
		if (!parsed.success) return;
		const frame = parsed.data;
		const head = this.queue[0];
		const answers =
			head &&
			((frame.type === "ack" && frame.id === head.id) ||
				frame.type === "sync" ||
				frame.type === "rebuild" ||
				frame.type === "error");
		if (!answers) return this.onPush(frame);
		this.queue.shift();
		if (frame.type === "error")
			head.reject(
				new FrameError(
					frame.error.type,
					frame.error.message,
					frame.error.retryAfter
				)
			);
		else head.resolve(frame as Reply);
	}
}
