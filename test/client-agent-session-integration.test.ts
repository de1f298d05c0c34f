/** The AgentClient's side of SPEC §7: the chats it claims, and signing out. */
import { afterEach, describe, expect, it } from "vitest";
import { storeKey } from "../client/chat-copy.ts";
import { MemoryStore } from "../client/index.ts";
import { Console, disconnectAll, visitorChat } from "./agent-clients.ts";
import { until } from "./client-helpers.ts";
import { createSite } from "./helpers.ts";

afterEach(disconnectAll);

describe("AgentClient: its chats are claims", () => {
	it("drops a chat that ended while it was away, from its chats and its store, once the dispatcher says its claim is stale", async () => {
		const siteId = await createSite();
		const store = new MemoryStore();
		const alice = await Console.login(siteId, "Alice", { store });
		const { visitor } = await visitorChat(siteId);
		const chat = await alice.assigned(visitor.chatId);
		await chat.send("Hello, how can I help?");
		await until(
			() => alice.client.chats.has(visitor.chatId),
			"the chat among the client's"
		);
		expect(await store.load(storeKey(siteId, visitor.chatId))).toBeDefined();

		// The console is closed while the visitor ends the chat: nobody tells it.
		alice.client.disconnect();
		await visitor.end();
		await alice.client.connect();

		await until(
			() => alice.find("released", visitor.chatId) !== undefined,
			"the release of the stale chat"
		);
		expect(alice.find("released", visitor.chatId)?.reason).toBe("stale");
		expect(alice.client.chats.has(visitor.chatId)).toBe(false);
		await until(
			() => alice.client.chats.size === 0,
			"no chat left in the client"
		);
		expect(await store.load(storeKey(siteId, visitor.chatId))).toBeUndefined();
	});
});
