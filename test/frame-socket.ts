import { SELF } from "cloudflare:test";
import { BASE } from "./helpers.ts";

/** A client socket to one of the dispatcher's endpoints (a visitor's page, an agent's console), keeping every JSON frame. */
export class FrameSocket<F extends { type: string }> {
	readonly frames: F[] = [];
	closedWith: number | undefined;

	private constructor(private readonly ws: WebSocket) {
		ws.addEventListener("message", (event) => {
			const data = String(event.data);
			if (data.startsWith("{")) this.frames.push(JSON.parse(data) as F);
		});
		ws.addEventListener("close", (event) => {
			this.closedWith = event.code;
		});
	}

	static async open<F extends { type: string }>(
		path: string
	): Promise<FrameSocket<F>> {
		const response = await SELF.fetch(`${BASE}/v1${path}`, {
			headers: { Upgrade: "websocket" },
		});
		if (!response.webSocket)
			throw new Error(
				`no upgrade: ${response.status} ${await response.text()}`
			);
		response.webSocket.accept();
		return new FrameSocket<F>(response.webSocket);
	}

	send(frame: unknown): void {
		this.ws.send(typeof frame === "string" ? frame : JSON.stringify(frame));
	}

	/** The first frame not yet taken that matches, waiting for it. */
	async next(match: (f: F) => boolean, ms = 3000): Promise<F> {
		const until = Date.now() + ms;
		for (;;) {
			const index = this.frames.findIndex(match);
			if (index >= 0) return this.frames.splice(index, 1)[0]!;
			if (this.closedWith !== undefined)
				throw new Error(
					`socket closed with ${this.closedWith}; have ${JSON.stringify(this.frames)}`
				);
			if (Date.now() > until)
				throw new Error(`no such frame; have ${JSON.stringify(this.frames)}`);
			await new Promise((resolve) => setTimeout(resolve, 20));
		}
	}

	async closed(ms = 3000): Promise<number> {
		const until = Date.now() + ms;
		while (this.closedWith === undefined && Date.now() < until)
			await new Promise((resolve) => setTimeout(resolve, 20));
		if (this.closedWith === undefined) throw new Error("socket still open");
		return this.closedWith;
	}

	close(): void {
		this.ws.close(1000);
	}
}
