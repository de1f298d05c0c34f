import { SELF } from "cloudflare:test";
import { ServerFrameSchema } from "../src/protocol/ws.ts";
import { BASE } from "./helpers.ts";
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
	async next(
		match: (f: ServerFrame) => boolean,
		timeoutMs = 3000
	): Promise<ServerFrame> {
		const deadline = Date.now() + timeoutMs;
		for (;;) {
			const index = this.frames.findIndex(match);
			if (index >= 0) return this.frames.splice(index, 1)[0]!;
			if (this.closedWith !== undefined)
				throw new Error(`socket closed with ${this.closedWith}`);
			if (Date.now() > deadline)
				throw new Error(
					`no matching frame; have ${JSON.stringify(this.frames)}`
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

	async closed(timeoutMs = 3000): Promise<number> {
		const deadline = Date.now() + timeoutMs;
		while (this.closedWith === undefined && Date.now() < deadline)
			await new Promise((r) => setTimeout(r, 10));
		if (this.closedWith === undefined) throw new Error("socket still open");
		return this.closedWith;
	}

	/** Lets frames in flight arrive, then hands over and forgets every frame received so far. */
	async drain(ms = 50): Promise<ServerFrame[]> {
		await new Promise((r) => setTimeout(r, ms));
		return this.frames.splice(0);
	}

	close(): void {
		this.ws.close(1000);
	}

	private notify() {
		for (const listener of this.listeners) listener();
		this.listeners.clear();
	}
}
