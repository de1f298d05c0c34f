/** What the SDK tests share: the Worker as the client's network, and a store that cannot save. */
import { SELF } from "cloudflare:test";
import { LiveChatClient, MemoryStore } from "../client/index.ts";
import { BASE } from "./helpers.ts";
import type { ChatSnapshot, ChatStore, OpenSocket } from "../client/index.ts";

export { until } from "./waiting.ts";

export const fetchVia = (input: RequestInfo | URL, init?: RequestInit) =>
	SELF.fetch(new Request(input, init));

/** The Worker's own upgrade (the test pool has no WebSocket constructor), keeping every socket it opened. */
export function socketOpener(
	opened: WebSocket[] = [],
	delayMs = 0
): OpenSocket {
	return async (url) => {
		const response = await SELF.fetch(url.replace(/^ws/, "http"), {
			headers: { Upgrade: "websocket" },
		});
		const ws = response.webSocket;
		if (!ws) throw new Error(`no upgrade: ${response.status}`);
		ws.accept();
		opened.push(ws);
		if (delayMs > 0)
			await new Promise((resolve) => setTimeout(resolve, delayMs));
		return ws;
	};
}

/** A visitor's client on a new chat of `siteId`, with the Worker as its network and `openSocket` for its sockets. */
export const socketVisitor = (siteId: string, openSocket: OpenSocket) =>
	LiveChatClient.startChat({
		baseUrls: [BASE],
		siteId,
		fetch: fetchVia,
		openSocket,
	});

/** A store that cannot save while `full`, the way a browser's storage refuses once its quota is used up (it throws at once, as localStorage does). */
export class FullStore implements ChatStore {
	readonly inner = new MemoryStore();
	/** Saves tried, refused or not. */
	tries = 0;
	constructor(public full = true) {}
	load(key: string) {
		return this.inner.load(key);
	}
	save(key: string, snapshot: ChatSnapshot): Promise<void> {
		this.tries++;
		if (this.full)
			throw new DOMException(
				"the quota has been exceeded",
				"QuotaExceededError"
			);
		return this.inner.save(key, snapshot);
	}
}
