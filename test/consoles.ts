import { SELF } from "cloudflare:test";
import { BASE } from "./helpers.ts";
import { until } from "./waiting.ts";
import type { AgentServerFrame } from "../src/protocol/dispatch.ts";

/** An agent console: the dispatcher's socket, every frame it sends kept. */
export class AgentConsole {
	readonly frames: AgentServerFrame[] = [];
	closed = false;
	closedWith: number | undefined;

	private constructor(private readonly ws: WebSocket) {
		ws.addEventListener("message", (event) => {
			const data = String(event.data);
			if (data.startsWith("{"))
				this.frames.push(JSON.parse(data) as AgentServerFrame);
		});
		ws.addEventListener("close", (event) => {
			this.closed = true;
			this.closedWith = event.code;
		});
	}

	/** A console that said hello with this token, once the dispatcher sent it the queue. */
	static async open(
		siteId: string,
		token: string,
		chats: string[] = [],
		status = "online"
	): Promise<AgentConsole> {
		const console = await AgentConsole.connect(siteId);
		console.send({ type: "hello", token, status, chats });
		await console.next((f) => f.type === "queue");
		return console;
	}

	/** Connected, nothing said yet. */
	static async connect(siteId: string): Promise<AgentConsole> {
		const response = await SELF.fetch(
			`${BASE}/v1/sites/${siteId}/agents/me/ws`,
			{ headers: { Upgrade: "websocket" } }
		);
		if (!response.webSocket)
			throw new Error(
				`no upgrade: ${response.status} ${await response.text()}`
			);
		response.webSocket.accept();
		return new AgentConsole(response.webSocket);
	}

	send(frame: unknown): void {
		this.ws.send(typeof frame === "string" ? frame : JSON.stringify(frame));
	}

	close(): void {
		this.ws.close();
	}

	/** The close code, once the dispatcher closed the socket. */
	async whenClosed(): Promise<number> {
		await until(() => this.closed, "the console to be closed");
		return this.closedWith!;
	}

	async next(
		match: (f: AgentServerFrame) => boolean
	): Promise<AgentServerFrame> {
		await until(
			() => this.frames.some(match),
			() => `a matching frame; have ${JSON.stringify(this.frames)}`
		);
		return this.frames.splice(this.frames.findIndex(match), 1)[0]!;
	}

	/**
	 * Takes every frame the dispatcher sent this console before it read a marker sent now (a frame it
	 * answers with an `invalid_request` error, handling one console's frames in order): what is not in
	 * the list was not sent for what came before, without waiting a while to see. The console must
	 * have said hello, and have no other invalid frame unanswered.
	 */
	async settled(): Promise<AgentServerFrame[]> {
		const from = this.frames.length;
		this.send({ type: "marker" });
		const marker = () =>
			this.frames.findIndex(
				(f, i) =>
					i >= from && f.type === "error" && f.error.type === "invalid_request"
			);
		await until(() => marker() >= 0, "the marker's answer");
		const before = this.frames.splice(0, marker() + 1);
		before.pop();
		return before;
	}
}
