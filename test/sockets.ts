import { SELF } from "cloudflare:test";
import { ServerFrameSchema } from "../src/protocol/ws.ts";
import { BASE } from "./helpers.ts";
import { WAIT_MS } from "./waiting.ts";
import type { ServerFrame } from "../src/protocol/ws.ts";

/** A client socket to a chat, collecting every frame the room sends it. */
export class TestSocket {
	readonly frames: ServerFrame[] = [];
	/** Frames that are not JSON: only the runtime's "pong". */
	readonly texts: string[] = [];
	closedWith: number | undefined;
	private listeners = new Set<() => void>();

	private constructor(private readonly ws: WebSocket) {
		ws.addEventListener("message", (event) => {
			const data = String(event.data);
			if (data.startsWith("{"))
				this.frames.push(ServerFrameSchema.parse(JSON.parse(data)));
			else this.texts.push(data);
			this.notify();
		});
		ws.addEventListener("close", (event) => {
			this.closedWith = event.code;
			this.notify();
		});
	}

	static async open(siteId: string, chatId: string): Promise<TestSocket> {
		const response = await SELF.fetch(
			`${BASE}/v1/sites/${siteId}/chats/${chatId}/ws`,
			{ headers: { Upgrade: "websocket" } }
		);
		if (!response.webSocket)
			throw new Error(
				`no upgrade: ${response.status} ${await response.text()}`
			);
		response.webSocket.accept();
		return new TestSocket(response.webSocket);
	}

	/** Opens a socket and says hello; resolves once the room answered it. */
	static async hello(
		siteId: string,
		chatId: string,
		token: string,
		offsets: [number, number] = [0, 0]
	): Promise<TestSocket> {
		const socket = await TestSocket.open(siteId, chatId);
		socket.send({
			type: "hello",
			token,
			visitorDataOffset: offsets[0],
			agentDataOffset: offsets[1],
		});
		await socket.next((f) => f.type === "sync" || f.type === "rebuild");
		return socket;
	}

	send(frame: unknown): void {
		this.ws.send(typeof frame === "string" ? frame : JSON.stringify(frame));
	}

	/** The first frame (not yet taken) that matches, waiting for it if need be. */
	async next<T extends ServerFrame>(
		match: (f: ServerFrame) => f is T
	): Promise<T>;
	async next(match: (f: ServerFrame) => boolean): Promise<ServerFrame>;
	async next(match: (f: ServerFrame) => boolean): Promise<ServerFrame> {
		await this.until(
			() => this.frames.some(match),
			"a matching frame",
			() => {
				if (this.closedWith !== undefined)
					throw new Error(`socket closed with ${this.closedWith}`);
			}
		);
		return this.frames.splice(this.frames.findIndex(match), 1)[0]!;
	}

	async closed(): Promise<number> {
		await this.until(
			() => this.closedWith !== undefined,
			"the socket to close"
		);
		return this.closedWith!;
	}

	/**
	 * Takes every frame the room sent this socket before it read a marker sent now: the marker is a frame
	 * the room answers with an `invalid_request` error to this socket alone, and a room handles one
	 * socket's frames, and sends it its frames, in order. So whatever the room sent this socket for what
	 * happened before (an answered call, a frame it already handled) is in the list, and what is not in
	 * it was not sent: a check that something never arrives, without waiting for a while.
	 * The socket must have said hello, and have no other invalid frame unanswered.
	 */
	async settled(): Promise<ServerFrame[]> {
		const from = this.frames.length;
		this.send({ type: "marker" });
		const marker = () =>
			this.frames.findIndex(
				(f, i) =>
					i >= from && f.type === "error" && f.error.type === "invalid_request"
			);
		await this.until(() => marker() >= 0, "the marker's answer");
		const before = this.frames.splice(0, marker() + 1);
		before.pop();
		return before;
	}

	/** Waits, woken by each frame and by the close, until `done` holds. */
	private async until(
		done: () => boolean,
		what: string,
		unless?: () => void
	): Promise<void> {
		const deadline = Date.now() + WAIT_MS;
		while (!done()) {
			unless?.();
			if (Date.now() > deadline)
				throw new Error(
					`timed out waiting for ${what}; have ${JSON.stringify(this.frames)}`
				);
			await new Promise<void>((resolve) => {
				const timer = setTimeout(resolve, deadline - Date.now());
				this.listeners.add(() => {
					clearTimeout(timer);
					resolve();
				});
			});
		}
	}

	close(): void {
		this.ws.close(1000);
	}

	private notify() {
		for (const listener of this.listeners) listener();
		this.listeners.clear();
	}
}
