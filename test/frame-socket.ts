import { SELF } from "cloudflare:test";
import { BASE } from "./helpers.ts";
import { until } from "./waiting.ts";

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
	async next(match: (f: F) => boolean): Promise<F> {
		await until(
			() => {
				if (this.frames.some(match)) return true;
				if (this.closedWith !== undefined)
					throw new Error(
						`socket closed with ${this.closedWith}; have ${JSON.stringify(this.frames)}`
					);
				return false;
			},
			() => `a matching frame; have ${JSON.stringify(this.frames)}`
		);
		return this.frames.splice(this.frames.findIndex(match), 1)[0]!;
	}

	async closed(): Promise<number> {
		await until(() => this.closedWith !== undefined, "the socket to close");
		return this.closedWith!;
	}

	/**
	 * Takes every frame the dispatcher sent this socket before it read a marker sent now (after a hello,
	 * both endpoints answer a frame they do not take with an `invalid_request` error, one socket's frames
	 * in order): what is not in the list was not sent for what came before, without waiting a while to
	 * see. No other invalid frame may be unanswered.
	 */
	async settled(): Promise<F[]> {
		const from = this.frames.length;
		this.send({ type: "marker" });
		const isError = (f: F) =>
			f.type === "error" &&
			(f as { error?: { type?: string } }).error?.type === "invalid_request";
		const marker = () =>
			this.frames.findIndex((f, i) => i >= from && isError(f));
		await until(() => marker() >= 0, "the marker's answer");
		const before = this.frames.splice(0, marker() + 1);
		before.pop();
		return before;
	}

	close(): void {
		this.ws.close(1000);
	}
}
