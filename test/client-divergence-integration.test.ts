import { describe, expect, it } from "vitest";
import { LiveChatClient, MemoryStore } from "../client/index.ts";
import { fetchVia, socketOpener } from "./client-helpers.ts";
import {
	expectSameAsServer,
	expectSameChat,
	serverMessages,
} from "./clients.ts";
import { BASE, createSite } from "./helpers.ts";
import { loseChat } from "./lose-chat.ts";

/**
 * Two tabs of one visitor, each with its own store, during a split brain: each tab's message 6
 * goes to another deployment, then message 7 (one id) reaches both. One room plays both
 * deployments: it loses the chat and is rebuilt from the copy of the tab whose deployment it
 * stands for, as a failover to that deployment would find it.
 */
async function splitBrain(options: { tabBSocket: boolean }) {
	const siteId = await createSite();
	const tabA = await LiveChatClient.startChat({
		baseUrls: [BASE],
		siteId,
		fetch: fetchVia,
		openSocket: undefined,
	});
	for (let i = 1; i <= 5; i++) await tabA.send(`message ${i}`);
	const tabB = new LiveChatClient({
		baseUrls: [BASE],
		siteId,
		chatId: tabA.chatId,
		token: tabA.token,
		fetch: fetchVia,
		store: new MemoryStore(),
		openSocket: options.tabBSocket ? socketOpener() : undefined,
	});
	await tabB.poll();

	const id7 = crypto.randomUUID();
	// Deployment 1: tab A's message 6, then message 7.
	await tabA.send("6 from tab A");
	await tabA.send("7 to both", id7);
	// Deployment 2 has the chat as it was before them: tab B's message 6, then message 7 with the same id.
	await loseChat(siteId, tabA.chatId);
	await tabB.send("6 from tab B");
	await tabB.send("7 to both", id7);

	// Equal offsets, message 7 the same in both copies: only the chains tell the histories apart.
	expect(tabA.offsets).toEqual({ visitorDataOffset: 7, agentDataOffset: 0 });
	expect(tabB.offsets).toEqual(tabA.offsets);
	expect(tabA.messages.find((m) => m.dataOffset === 7)!.id).toBe(id7);
	expect(tabB.messages.find((m) => m.dataOffset === 7)!.id).toBe(id7);
	expect(tabA.messages.find((m) => m.dataOffset === 6)!.content).toBe(
		"6 from tab A"
	);
	expect(tabB.messages.find((m) => m.dataOffset === 6)!.content).toBe(
		"6 from tab B"
	);

	// Fail-back to deployment 1, which holds tab A's history.
	await loseChat(siteId, tabA.chatId);
	await tabA.poll();
	return { siteId, tabA, tabB };
}

const everyMessage = [
	"message 1",
	"message 2",
	"message 3",
	"message 4",
	"message 5",
	"6 from tab A",
	"7 to both",
	"6 from tab B",
];

describe("two tabs whose histories diverged below equal offsets", () => {
	it("converge over HTTP: every message once, in the same order, in both copies and on the server", async () => {
		const { siteId, tabA, tabB } = await splitBrain({ tabBSocket: false });

		await tabB.send("after the fail-back");
		await tabA.poll();

		const server = await serverMessages(siteId, tabA.chatId, tabA.token);
		expectSameChat(tabA.messages, tabB.messages, server);
		expect(server.map((m) => m.content).sort()).toEqual(
			[...everyMessage, "after the fail-back"].sort()
		);
		// Tab B's message 6 lost its place to tab A's and came back after message 7, with a new offset.
		expect(server.find((m) => m.content === "6 from tab B")!.dataOffset).toBe(
			8
		);
		expect(tabB.pending).toEqual([]);
	});

	it("converge when the room says so in the rebuild frame that answers a socket's hello", async () => {
		const { siteId, tabA, tabB } = await splitBrain({ tabBSocket: true });

		await tabB.connect();
		expect(tabB.realtime).toBe("websocket");
		await tabA.poll();

		const server = await serverMessages(siteId, tabA.chatId, tabA.token);
		expectSameChat(tabA.messages, tabB.messages, server);
		expect(server.map((m) => m.content).sort()).toEqual(
			[...everyMessage].sort()
		);

		// And the chat goes on over the socket.
		await tabB.send("after the fail-back");
		await tabA.poll();
		await expectSameAsServer(siteId, tabA, tabB.messages);
		tabB.disconnect();
	});
});
