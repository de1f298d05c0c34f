import { describe, expect, it } from "vitest";
import { LiveChatClient } from "../client/index.ts";
import {
	fetchVia,
	socketOpener,
	socketVisitor,
	until,
} from "./client-helpers.ts";
import {
	expectSameAsServer,
	expectSameChat,
	serverMessages,
} from "./clients.ts";
import { accept, BASE, createAgent, createSite, send } from "./helpers.ts";
import type { ChatEvent } from "../client/index.ts";

/** An agent takes the chat and writes in it over the API. */
async function agentWrites(siteId: string, chatId: string, content: string) {
	const agent = await createAgent(siteId);
	await accept(siteId, chatId, agent.token);
	await send(siteId, chatId, agent.token, [0, 1], content);
}

describe("LiveChatClient over WebSocket", () => {
	it("keeps two visitor tabs and an agent in step: every message once, in order, everywhere", async () => {
		const siteId = await createSite();
		const events = new Map<string, string[]>();
		const options = (name: string) => ({
			baseUrls: [BASE],
			fetch: fetchVia,
			openSocket: socketOpener(),
			onEvent: (e: ChatEvent) => {
				if (e.type === "messages")
					events.set(name, [
						...(events.get(name) ?? []),
						...e.messages.map((m) => m.id),
					]);
			},
		});
		const tab1 = await LiveChatClient.startChat({ ...options("tab1"), siteId });
		const tab2 = new LiveChatClient({
			...options("tab2"),
			siteId,
			chatId: tab1.chatId,
			token: tab1.token,
			chatState: undefined,
		});
		const agentLogin = await createAgent(siteId);
		await accept(siteId, tab1.chatId, agentLogin.token);
		const agent = new LiveChatClient({
			...options("agent"),
			siteId,
			chatId: tab1.chatId,
			token: agentLogin.token,
		});
		await Promise.all([tab1.connect(), tab2.connect(), agent.connect()]);
		expect([tab1.realtime, tab2.realtime, agent.realtime]).toEqual([
			"websocket",
			"websocket",
			"websocket",
		]);

		for (let i = 1; i <= 3; i++) {
			await (i % 2 ? tab1 : tab2).send(`visitor ${i}`);
			await until(
				() => agent.messages.some((m) => m.content === `visitor ${i}`),
				`agent sees visitor ${i}`
			);
			await agent.send(`agent ${i}`);
		}
		const total = 3 + 3 + 1; // and the join notice
		await until(
			() => [tab1, tab2, agent].every((c) => c.messages.length === total),
			"everyone to hold every message"
		);
		const server = await serverMessages(siteId, tab1.chatId, agentLogin.token);
		expectSameChat(tab1.messages, tab2.messages, agent.messages, server);
		for (const [name, ids] of events)
			expect(new Set(ids).size, `${name} told of a message twice`).toBe(
				ids.length
			);
		for (const c of [tab1, tab2, agent]) c.disconnect();
	});

	it("falls back to long-polling where WebSockets are blocked", async () => {
		const siteId = await createSite();
		const blocked = async () => {
			throw new Error("blocked by a proxy");
		};
		const visitor = await socketVisitor(siteId, blocked);
		await visitor.connect();
		expect(visitor.realtime).toBe("long-poll");
		await agentWrites(siteId, visitor.chatId, "can you hear me?");
		await until(
			() => visitor.messages.some((m) => m.content === "can you hear me?"),
			"the long-poll to bring the message"
		);
		await visitor.send("yes");
		expect(visitor.messages.map((m) => m.content)).toEqual([
			"Alice joined the chat",
			"can you hear me?",
			"yes",
		]);
		visitor.disconnect();
	});

	it("reconnects after the socket drops, catches up on what it missed, and keeps its outbox", async () => {
		const siteId = await createSite();
		const sockets: WebSocket[] = [];
		const visitor = await socketVisitor(siteId, socketOpener(sockets));
		await visitor.connect();
		await visitor.send("first");
		const agent = await createAgent(siteId);

		sockets[0]!.close(1001, "network change");
		// The agent joins and answers while the visitor's socket is down.
		await accept(siteId, visitor.chatId, agent.token);
		await send(
			siteId,
			visitor.chatId,
			agent.token,
			[1, 1],
			"sent while you were away"
		);
		const whileAway = visitor.send("typed while reconnecting");
		await until(
			() => sockets.length >= 2 && visitor.realtime === "websocket",
			"a new socket"
		);
		await whileAway;
		await until(() => visitor.messages.length === 4, "the visitor to catch up");
		expect(visitor.messages.map((m) => m.content)).toEqual([
			"first",
			"Alice joined the chat",
			"sent while you were away",
			"typed while reconnecting",
		]);
		expect(visitor.pending).toEqual([]);
		await expectSameAsServer(siteId, visitor);
		visitor.disconnect();
	});

	it("tells onEvent of messages that arrive in an HTTP answer too, once each", async () => {
		const siteId = await createSite();
		const told: string[] = [];
		const visitor = await LiveChatClient.startChat({
			baseUrls: [BASE],
			fetch: fetchVia,
			siteId,
			onEvent: (e) => {
				if (e.type === "messages")
					told.push(...e.messages.map((m) => m.content));
			},
		});
		await agentWrites(siteId, visitor.chatId, "hello from the agent");
		await visitor.send("hi"); // the answer carries the agent's messages as well as this one
		expect(told).toEqual([
			"Alice joined the chat",
			"hello from the agent",
			"hi",
		]);
		await visitor.poll();
		expect(told).toHaveLength(3);
	});
});
