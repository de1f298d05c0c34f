import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { LiveChatClient } from "../client/index.ts";
import {
	fetchVia,
	FullStore,
	socketOpener,
	socketVisitor,
	until,
} from "./client-helpers.ts";
import { expectSameChat, serverMessages } from "./clients.ts";
import { BASE, createSite } from "./helpers.ts";
import type { ChatEvent } from "../client/index.ts";

const stillOpen = (sockets: WebSocket[]) =>
	sockets.filter((ws) => ws.readyState === WebSocket.OPEN).length;

/** Rejections nobody handled, caught here so that the test can name them (vitest would fail the run on them too). */
const unhandled: unknown[] = [];
const onUnhandled = (event: PromiseRejectionEvent) => {
	unhandled.push(event.reason);
	event.preventDefault();
};
beforeEach(() => {
	unhandled.length = 0;
	addEventListener("unhandledrejection", onUnhandled);
});
afterEach(() => removeEventListener("unhandledrejection", onUnhandled));

describe("LiveChatClient connections", () => {
	it("keeps one socket open however often it reconnects", async () => {
		const siteId = await createSite();
		const sockets: WebSocket[] = [];
		const visitor = await socketVisitor(siteId, socketOpener(sockets));
		await visitor.connect();

		for (let i = 0; i < 5; i++) {
			visitor.disconnect();
			await visitor.connect();
		}
		await until(() => visitor.realtime === "websocket", "a socket");
		expect(sockets).toHaveLength(6);
		expect(stillOpen(sockets)).toBe(1);

		// Reconnects the room did not ask for (a network change): the one socket is replaced, never added to.
		for (let i = 0; i < 5; i++) {
			const count = sockets.length;
			sockets.at(-1)!.close(1001, "network change");
			await until(
				() => sockets.length > count && visitor.realtime === "websocket",
				"a new socket"
			);
		}
		expect(stillOpen(sockets)).toBe(1);

		// Reconnects in a burst, without waiting for any of them. Each connect() settles once its own attempt is
		// over, a socket of a connection given up already closed by then.
		const burst: Promise<void>[] = [];
		for (let i = 0; i < 5; i++) {
			visitor.disconnect();
			burst.push(visitor.connect());
		}
		await Promise.all(burst);
		expect(visitor.realtime).toBe("websocket");
		expect(stillOpen(sockets)).toBe(1);

		visitor.disconnect();
		await until(() => stillOpen(sockets) === 0, "every socket to close");
		expect(visitor.realtime).toBe("off");
		expect(unhandled).toEqual([]);
	});

	it("closes at once a socket that opens after disconnect()", async () => {
		const siteId = await createSite();
		const sockets: WebSocket[] = [];
		const visitor = await socketVisitor(siteId, socketOpener(sockets, 100));
		const connected = visitor.connect();
		await until(() => sockets.length === 1, "the socket to be opening");
		visitor.disconnect();
		// connect() settles once its attempt is over: the socket that opened after disconnect() is closed by then.
		await connected;
		expect(stillOpen(sockets)).toBe(0);
		expect(visitor.realtime).toBe("off");
	});

	it("with a store that cannot save: sends, takes pushed messages, reports nothing it did not do, and saves once the store recovers", async () => {
		const siteId = await createSite();
		const store = new FullStore();
		const events: ChatEvent[] = [];
		const sockets: WebSocket[] = [];
		const visitor = await LiveChatClient.startChat({
			baseUrls: [BASE],
			siteId,
			fetch: fetchVia,
			store,
			openSocket: socketOpener(sockets),
			onEvent: (e) => events.push(e),
		});
		await visitor.connect();
		expect(visitor.saved).toBe(false);

		// Another tab's message, pushed over the socket: saving after it fails too, and must not throw anywhere.
		const otherTab = new LiveChatClient({
			baseUrls: [BASE],
			siteId,
			chatId: visitor.chatId,
			token: visitor.token,
			fetch: fetchVia,
			openSocket: undefined,
		});
		const tries = store.tries;
		await otherTab.send("from the other tab");
		await until(
			() => visitor.messages.length === 1 && store.tries > tries,
			"the pushed message, and the save it was refused"
		);
		// One turn of the event loop: a rejection nobody handled in the save's task is reported by then.
		await new Promise((resolve) => setTimeout(resolve, 0));
		expect(unhandled).toEqual([]);

		const sent = await visitor.send("hello");
		expect(visitor.pending).toEqual([]);

		const server = await serverMessages(siteId, visitor.chatId, visitor.token);
		expect(server.map((m) => m.content)).toEqual([
			"from the other tab",
			"hello",
		]);
		expect(server[1]).toEqual(sent);
		expectSameChat(visitor.messages, server);
		expect(events.filter((e) => e.type === "storage")).toMatchObject([
			{ saved: false },
		]);

		store.full = false;
		await visitor.send("after the store recovered");
		expect(visitor.saved).toBe(true);
		expect(
			(await store.load(`${siteId}/${visitor.chatId}`))?.messages
				.map((m) => m.content)
				.sort()
		).toEqual(["after the store recovered", "from the other tab", "hello"]);
		expect(events.filter((e) => e.type === "storage")).toMatchObject([
			{ saved: false },
			{ saved: true },
		]);
		visitor.disconnect();
		expect(unhandled).toEqual([]);
	});
});
