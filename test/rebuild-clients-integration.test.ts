import { env } from "cloudflare:test";
import { decode } from "hono/jwt";
import { describe, expect, it } from "vitest";
import { LiveChatClient } from "../client/index.ts";
import { chatRoom } from "../durable-objects/room-contract.ts";
import {
	converse,
	expectSameChat,
	recordingFetch,
	serverMessages,
	visitorAndAgent,
} from "./clients.ts";
import { BASE, createSite, poll } from "./helpers.ts";
import { loseChat } from "./lose-chat.ts";
import type { Recorded } from "./clients.ts";

describe("client-driven rebuild of a chat the server lost", () => {
	it("visitor and agent rebuild it with every message once, in order, unchanged", async () => {
		const { siteId, visitor, agent, agentToken, calls } =
			await visitorAndAgent();
		await converse(visitor, agent, 5);
		const before = visitor.messages;
		expect(before).toHaveLength(11); // 5 + 5 + the agent's join notice
		expectSameChat(
			before,
			agent.messages,
			await serverMessages(siteId, visitor.chatId, agentToken)
		);

		await loseChat(siteId, visitor.chatId);

		// The room has nothing: any call now is answered code 1 with -1/-1 and applies nothing.
		const probe = await poll(siteId, visitor.chatId, agentToken, [5, 6]);
		expect(probe.body).toEqual({
			code: 1,
			visitorDataOffset: -1,
			agentDataOffset: -1,
			messages: [],
		});

		calls.length = 0;
		await visitor.send("are you still there?");
		expect(calls.map((c) => [c.path, c.code])).toEqual([
			["/messages", 1],
			["/rebuild", 0],
			["/messages", 0],
		]);
		expect(calls[0]!.offsets).toEqual([-1, -1]);
		expect(calls[1]!.uploaded).toBe(11);

		await agent.poll();
		await agent.send("yes, still here");
		await visitor.poll();

		const server = await serverMessages(siteId, visitor.chatId, agentToken);
		expectSameChat(visitor.messages, agent.messages, server);
		expect(server).toHaveLength(13);
		// The originals came back exactly as they were accepted: ids, send times, offsets, macs.
		expect(server.slice(0, 11)).toEqual(before);
	});

	it("is rebuilt the same way whichever client comes back first", async () => {
		for (const agentFirst of [false, true]) {
			const { siteId, visitor, agent, agentToken } = await visitorAndAgent();
			await converse(visitor, agent, 3);
			const before = visitor.messages;
			await loseChat(siteId, visitor.chatId);
			const [first, second] = agentFirst ? [agent, visitor] : [visitor, agent];
			await Promise.all([first.send("first back"), second.send("second back")]);
			await Promise.all([visitor.poll(), agent.poll()]);
			const server = await serverMessages(siteId, visitor.chatId, agentToken);
			expectSameChat(visitor.messages, agent.messages, server);
			expect(server).toHaveLength(before.length + 2);
			expect(server.filter((m) => before.some((b) => b.id === m.id))).toEqual(
				before
			);
		}
	});

	it("uploads only what the server lacks when it is behind by a few messages of each stream", async () => {
		const { siteId, visitor, agent, agentToken, calls } =
			await visitorAndAgent();
		// A second agent device that stops following after three turns: its copy will be older.
		const staleDevice = new LiveChatClient({
			baseUrls: [BASE],
			siteId,
			chatId: visitor.chatId,
			token: agentToken,
			fetch: recordingFetch([]),
		});
		await converse(visitor, agent, 3);
		await staleDevice.poll();
		await converse(visitor, agent, 2);
		await loseChat(siteId, visitor.chatId);

		await staleDevice.poll(); // rebuilds the server in full from its older copy
		const behind = await poll(siteId, visitor.chatId, agentToken);
		expect([
			behind.body.visitorDataOffset,
			behind.body.agentDataOffset,
		]).toEqual([3, 4]);

		calls.length = 0;
		await visitor.send("one more thing");
		expect(calls.map((c) => [c.path, c.code, c.offsets])).toEqual([
			["/messages", 1, [3, 4]],
			["/rebuild", 0, [5, 6]],
			["/messages", 0, [6, 6]],
		]);
		expect(calls[1]!.uploaded).toBe(4); // visitor messages 4-5 and agent messages 5-6, nothing else

		await Promise.all([agent.poll(), staleDevice.poll()]);
		const server = await serverMessages(siteId, visitor.chatId, agentToken);
		expectSameChat(
			visitor.messages,
			agent.messages,
			staleDevice.messages,
			server
		);
		expect(server).toHaveLength(12);
	});

	it("sends a large rebuild in chunks of at most 500 messages", async () => {
		const siteId = await createSite({
			limits: { messagesPerMinutePerVisitor: 10_000 },
		});
		const calls: Recorded[] = [];
		const visitor = await LiveChatClient.startChat({
			baseUrls: [BASE],
			siteId,
			fetch: recordingFetch(calls),
		});
		// 520 messages straight into the room (many SELF.fetch calls slow the test pool down), then one poll.
		const room = chatRoom(env, siteId, visitor.chatId);
		const caller = {
			role: "visitor" as const,
			id: visitorIdOf(visitor),
			siteId,
			chatId: visitor.chatId,
		};
		for (let i = 0; i < 520; i++) {
			await room.send(
				caller,
				{ visitorDataOffset: i, agentDataOffset: 0 },
				{ id: crypto.randomUUID(), content: `message ${i}` }
			);
		}
		await visitor.poll();
		const before = visitor.messages;
		expect(before).toHaveLength(520);
		await loseChat(siteId, visitor.chatId);

		calls.length = 0;
		await visitor.send("after");
		expect(
			calls
				.filter((c) => c.path === "/rebuild")
				.map((c) => [c.uploaded, c.code])
		).toEqual([
			[500, 0],
			[20, 0],
		]);
		const server = await serverMessages(siteId, visitor.chatId, visitor.token);
		expect(server.slice(0, 520)).toEqual(before);
		expect(server).toHaveLength(521);
	});

	it("keeps an unsent message in the outbox when the rebuild before it fails, and delivers it later", async () => {
		const { siteId, visitor, agentToken } = await visitorAndAgent();
		await visitor.send("hello");
		await loseChat(siteId, visitor.chatId);
		// This agent device never talked to the room, so it holds no chatState and cannot recreate the chat.
		const agent = new LiveChatClient({
			baseUrls: [BASE],
			siteId,
			chatId: visitor.chatId,
			token: agentToken,
			fetch: recordingFetch([]),
		});
		await expect(agent.send("are you there?")).rejects.toMatchObject({
			status: 400,
			path: "/rebuild",
		});
		expect(agent.pending.map((m) => m.content)).toEqual(["are you there?"]);

		await visitor.poll(); // the visitor brings the chat back
		await agent.flush();
		expect(agent.pending).toEqual([]);
		await visitor.poll();
		// The agent joined (accepted) before the visitor's first message.
		expect(visitor.messages.map((m) => m.content)).toEqual([
			"Alice joined the chat",
			"hello",
			"are you there?",
		]);
	});

	it("rebuilds a chat whose prechat form filled the largest start body", async () => {
		const siteId = await createSite();
		const prechat = { question: "问".repeat(5000) }; // 15 KB of UTF-8, 4/3 of that once sealed
		const visitor = await LiveChatClient.startChat({
			baseUrls: [BASE],
			siteId,
			prechat,
			fetch: recordingFetch([]),
		});
		await visitor.send("hello");
		await loseChat(siteId, visitor.chatId);
		await visitor.send("still there?");
		expect(
			(await serverMessages(siteId, visitor.chatId, visitor.token)).map(
				(m) => m.content
			)
		).toEqual(["hello", "still there?"]);
	});
});

const visitorIdOf = (client: LiveChatClient) =>
	String(decode(client.token).payload.sub);
