import { abortAllDurableObjects } from "cloudflare:test";
import { afterEach, describe, expect, it } from "vitest";
import { Console, disconnectAll, visitorChat } from "../agent-clients.ts";
import { until } from "../client-helpers.ts";
import { expectSameAsServer } from "../clients.ts";
import { api, createSite } from "../helpers.ts";

afterEach(disconnectAll);

async function listedChats(siteId: string, token: string): Promise<string[]> {
	const res = await api(`/sites/${siteId}/agents/me/chats`, { token });
	return (await res.json<{ chats: { chatId: string }[] }>()).chats.map(
		(c) => c.chatId
	);
}

describe("an AgentClient whose dispatcher lost its state (memory mode)", () => {
	it("reconnects and says hello with its chats: the dispatcher lists them again and counts them, and the chats go on", async () => {
		const siteId = await createSite();
		const alice = await Console.login(siteId, "Alice", { maxChats: 3 });
		const { visitor } = await visitorChat(siteId);
		const chat = await alice.assigned(visitor.chatId);
		await chat.send("Hello, how can I help?");
		await visitor.poll();
		const connectionsBefore = alice.of("connection").length;

		await abortAllDurableObjects();
		// Its socket closed with the dispatcher; the client opens another by itself and says hello again.
		await until(
			() =>
				alice
					.of("connection")
					.slice(connectionsBefore)
					.some((e) => e.via === "websocket"),
			"the presence socket back"
		);
		expect(alice.client.connectionState).toBe("websocket");
		const token = alice.client.token;
		await until(
			async () => (await listedChats(siteId, token)).length > 0,
			"the dispatcher to list the chat again"
		);
		expect(await listedChats(siteId, token)).toEqual([visitor.chatId]);
		expect(
			(await alice.client.agents()).find((a) => a.name === "Alice")
		).toMatchObject({ status: "online", free: 2 });

		// The room lost the chat too: the visitor's and the agent's copies bring it back, and it goes on.
		await visitor.send("it was order 1234");
		await until(
			() => chat.messages.some((m) => m.content === "it was order 1234"),
			"the visitor's message on the agent's side"
		);
		await chat.send("found it, it ships today");
		await visitor.poll();
		await expectSameAsServer(siteId, visitor, chat.messages);
		expect(visitor.messages.map((m) => m.content)).toEqual([
			"Alice joined the chat",
			"Hello, how can I help?",
			"it was order 1234",
			"found it, it ships today",
		]);
	});
});
