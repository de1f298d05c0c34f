import { SELF } from "cloudflare:test";
import { BASE } from "./helpers.ts";
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

	async closedAfter(ms = 3000): Promise<number | undefined> {
		const until = Date.now() + ms;
		while (!this.closed && Date.now() < until)
			await new Promise((resolve) => setTimeout(resolve, 20));
		return this.closedWith;
	}

	async next(
		match: (f: AgentServerFrame) => boolean,
		ms = 3000
	): Promise<AgentServerFrame> {
		const until = Date.now() + ms;
		for (;;) {
			const index = this.frames.findIndex(match);
			if (index >= 0) return this.frames.splice(index, 1)[0]!;
			if (Date.now() > until)
				throw new Error(`no such frame; have ${JSON.stringify(this.frames)}`);
			await new Promise((resolve) => setTimeout(resolve, 20));
		}
	}
}
