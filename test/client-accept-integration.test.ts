import { describe, expect, it } from "vitest";
import { LiveChatClient } from "../client/index.ts";
import { fetchVia } from "./client-helpers.ts";
import { expectSameChat, serverMessages } from "./clients.ts";
import { BASE, createAgent, createSite } from "./helpers.ts";
import { loseChat } from "./lose-chat.ts";

async function waitingChat() {
	const siteId = await createSite();
	const visitor = await LiveChatClient.startChat({
		baseUrls: [BASE],
		siteId,
		fetch: fetchVia,
		openSocket: undefined,
	});
	await visitor.send("hello, anyone there?");
	const agentOf = async (name: string) =>
		new LiveChatClient({
			baseUrls: [BASE],
			siteId,
			chatId: visitor.chatId,
			token: (await createAgent(siteId, name)).token,
			fetch: fetchVia,
			openSocket: undefined,
		});
	return {
		siteId,
		visitor,
		alice: await agentOf("Alice"),
		bob: await agentOf("Bob"),
	};
}

describe("LiveChatClient.accept", () => {
	it("takes a waiting chat: the agent may act in it, another agent gets 409 and stays out with 403 not_in_chat", async () => {
		const { siteId, visitor, alice, bob } = await waitingChat();
		await expect(alice.poll()).rejects.toMatchObject({
			status: 403,
			type: "not_in_chat",
		});

		await alice.accept();
		await alice.poll();
		expect(alice.status).toBe("chatting");
		await alice.send("hi, I'm Alice");

		await expect(bob.accept()).rejects.toMatchObject({
			status: 409,
			type: "conflict",
		});
		await expect(bob.poll()).rejects.toMatchObject({
			status: 403,
			type: "not_in_chat",
		});
		await expect(bob.send("me too")).rejects.toMatchObject({
			status: 403,
			type: "not_in_chat",
		});
		expect(bob.pending).toEqual([]); // refused for good: out of the outbox, not retried forever

		await visitor.poll();
		const server = await serverMessages(siteId, visitor.chatId, visitor.token);
		expectSameChat(visitor.messages, alice.messages, server);
		expect(server.map((m) => m.content)).toEqual([
			"hello, anyone there?",
			"Alice joined the chat",
			"hi, I'm Alice",
		]);
	});

	it("keeps the chat state it answers: the agent brings a lost chat back with itself in it", async () => {
		const { siteId, visitor, alice } = await waitingChat();
		await alice.accept(); // and nothing else: that chat state is all this agent holds
		await loseChat(siteId, visitor.chatId);

		await alice.send("are you still there?");
		await visitor.poll();
		const server = await serverMessages(siteId, visitor.chatId, visitor.token);
		expectSameChat(visitor.messages, server);
		expect(server.map((m) => m.content)).toEqual([
			"hello, anyone there?",
			"are you still there?",
		]);
	});

	it("is 503 chat_unavailable while the room has lost the waiting chat, and works once the visitor's client rebuilt it", async () => {
		const { siteId, visitor, alice } = await waitingChat();
		await loseChat(siteId, visitor.chatId);

		await expect(alice.accept()).rejects.toMatchObject({
			status: 503,
			type: "chat_unavailable",
		});
		await visitor.poll();
		await alice.accept();
		await alice.poll();
		expect(alice.messages.map((m) => m.content)).toEqual([
			"hello, anyone there?",
			"Alice joined the chat",
		]);
	});
});
