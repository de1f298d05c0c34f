/** The agents' log events of SPEC §8 reach D1 (`event_log`, written by persistence): side tools', canned messages' and the dispatcher's. Bad input publishes nothing. */
import { describe, expect, it } from "vitest";
import { LiveChatClient } from "../../client/index.ts";
import { fetchVia } from "../client-helpers.ts";
import { setStatus } from "../dispatch.ts";
import { FrameSocket } from "../frame-socket.ts";
import {
	accept,
	api,
	BASE,
	createAgent,
	createSite,
	json,
	poll,
	startChat,
} from "../helpers.ts";
import { logged, logsDrained, postJson, waitFor } from "../queue-helpers.ts";
import { TestSocket } from "../sockets.ts";
import type { AgentServerFrame } from "../../src/protocol/dispatch.ts";

/** A chat Alice has accepted, on a site that routes by hand. */
async function aliceInAChat() {
	const siteId = await createSite({
		routing: { mode: "manual", sticky: false },
	});
	const chat = await startChat(siteId);
	const alice = await createAgent(siteId, "Alice");
	expect((await accept(siteId, chat.chatId, alice.token)).status).toBe(200);
	return { siteId, chat, alice };
}

describe("agent log events reach D1", () => {
	it("agent.savePreference for saved preferences, privateMessage.log for a private message pushed to the other agent's console", async () => {
		const siteId = await createSite();
		const alice = await createAgent(siteId, "Alice");
		const bob = await createAgent(siteId, "Bob");
		const visitor = await startChat(siteId);
		const preferences = `/sites/${siteId}/agents/me/preferences`;
		const put = (body: unknown, token = alice.token) =>
			api(preferences, { method: "PUT", token, body: json(body) });
		for (const bad of [
			{},
			{ sound: "loud" },
			{ theme: { dark: true } },
			{ "bad name": 1 },
			{ list: [1] },
		])
			expect((await put(bad)).status).toBe(400);
		expect((await put({ sound: true }, visitor.token)).status).toBe(403);
		const saved = await put({
			sound: false,
			notifications: true,
			theme: "dark",
		});
		expect(saved.status).toBe(202);
		expect(await saved.json()).toMatchObject({
			code: 0,
			preferences: { sound: false, notifications: true, theme: "dark" },
		});

		const bobConsole = await FrameSocket.open<AgentServerFrame>(
			`/sites/${siteId}/agents/me/ws`
		);
		bobConsole.send({
			type: "hello",
			token: bob.token,
			status: "online",
			chats: [],
		});
		await bobConsole.next((f) => f.type === "queue");
		const toBob = `/sites/${siteId}/agents/${bob.agentId}/messages`;
		expect((await postJson(toBob, {}, alice.token)).status).toBe(400);
		expect(
			(await postJson(toBob, { content: "x".repeat(4001) }, alice.token)).status
		).toBe(413);
		expect(
			(await postJson(toBob, { content: "hi", urgent: true }, alice.token))
				.status
		).toBe(400);
		expect(
			(
				await postJson(
					`/sites/${siteId}/agents/${alice.agentId}/messages`,
					{ content: "me" },
					alice.token
				)
			).status
		).toBe(400);
		expect(
			(
				await postJson(
					`/sites/${siteId}/agents/nobody/messages`,
					{ content: "hi" },
					alice.token
				)
			).status
		).toBe(404);
		expect(
			(await postJson(toBob, { content: "hi" }, visitor.token)).status
		).toBe(403);
		const sent = await postJson(
			toBob,
			{ content: "Can you take the next French chat?" },
			alice.token
		);
		expect(sent.status).toBe(200);
		expect(await sent.json()).toEqual({ code: 0, delivered: 1 });
		expect(await bobConsole.next((f) => f.type === "private")).toEqual({
			type: "private",
			from: alice.agentId,
			message: "Can you take the next French chat?",
		});

		await logsDrained(); // what follows is all there will be
		expect(await logged(siteId, "agent.savePreference", 1)).toEqual([
			{
				siteId,
				agentId: alice.agentId,
				preferences: { sound: false, notifications: true, theme: "dark" },
				at: expect.any(Number),
			},
		]);
		expect(await logged(siteId, "privateMessage.log", 1)).toEqual([
			{
				siteId,
				fromAgentId: alice.agentId,
				fromName: "Alice",
				toAgentId: bob.agentId,
				message: "Can you take the next French chat?",
				delivered: 1,
				at: expect.any(Number),
			},
		]);
		expect(
			(await bobConsole.settled()).filter((f) => f.type === "private")
		).toEqual([]);
	});

	it("cannedMessage.useLog once per canned message an agent sends, over HTTP or a socket; not for a visitor or a refused send", async () => {
		const { siteId, chat, alice } = await aliceInAChat();
		const messages = `/sites/${siteId}/chats/${chat.chatId}/messages`;
		const id = crypto.randomUUID();
		const cannedSend = (body: Record<string, unknown>, token = alice.token) =>
			api(messages, {
				method: "POST",
				token,
				offsets: [0, 1],
				body: json(body),
			});

		const hello = { id, content: "Hello! How can I help?", canned: "hello" };
		for (const canned of ["", "x".repeat(101)])
			expect(
				(await cannedSend({ ...hello, id: crypto.randomUUID(), canned })).status
			).toBe(400);
		expect(
			(await poll(siteId, chat.chatId, alice.token, [0, 1])).body.messages
		).toEqual([]);
		expect((await cannedSend(hello)).status).toBe(200);
		// A retry of the same message is the same message, and the same use.
		expect((await cannedSend(hello)).status).toBe(200);
		expect(
			(
				await cannedSend(
					{ ...hello, id: crypto.randomUUID(), content: "I am a visitor" },
					chat.token
				)
			).status
		).toBe(200);

		const socket = await TestSocket.hello(
			siteId,
			chat.chatId,
			alice.token,
			[1, 2]
		);
		const socketId = crypto.randomUUID();
		socket.send({
			type: "send",
			message: { id: socketId, content: "Anything else?", canned: "more" },
		});
		await socket.next((f) => f.type === "ack");

		await logsDrained(); // what follows is all there will be
		const uses = (await logged(siteId, "cannedMessage.useLog", 2)).sort(
			(a, b) => String(a.shortcut).localeCompare(String(b.shortcut))
		);
		expect(
			uses.map(({ messageId, shortcut, agentId, chatId }) => ({
				messageId,
				shortcut,
				agentId,
				chatId,
			}))
		).toEqual([
			{
				messageId: id,
				shortcut: "hello",
				agentId: alice.agentId,
				chatId: chat.chatId,
			},
			{
				messageId: socketId,
				shortcut: "more",
				agentId: alice.agentId,
				chatId: chat.chatId,
			},
		]);
	});

	it("cannedMessage.useLog from the SDK: LiveChatClient.send with a shortcut goes through the outbox and is logged once", async () => {
		const { siteId, chat, alice } = await aliceInAChat();
		const agent = new LiveChatClient({
			baseUrls: [BASE],
			siteId,
			chatId: chat.chatId,
			token: alice.token,
			fetch: fetchVia,
			openSocket: undefined,
		});
		const sent = await agent.send("Thanks for waiting!", undefined, "thanks");
		await agent.send("A plain message");
		await logsDrained(); // what follows is all there will be
		const uses = await logged(siteId, "cannedMessage.useLog", 1);
		expect(
			uses.map(({ messageId, shortcut }) => ({ messageId, shortcut }))
		).toEqual([{ messageId: sent.id, shortcut: "thanks" }]);
	});

	it("chatQueue.log as a chat enters and leaves the queue (with its wait), agentStatus.log as an agent's status changes", async () => {
		const siteId = await createSite({
			routing: { mode: "auto", sticky: false },
		});
		const chat = await startChat(siteId);
		const alice = await createAgent(siteId, "Alice");
		await new Promise((resolve) => setTimeout(resolve, 50));
		expect((await setStatus(siteId, alice.token, "online")).status).toBe(200);
		await waitFor(
			"the assignment",
			async () =>
				(await poll(siteId, chat.chatId, chat.token)).body.status === "chatting"
		);
		expect((await setStatus(siteId, alice.token, "away")).status).toBe(200);

		await logsDrained(); // what follows is all there will be
		const queue = await logged(siteId, "chatQueue.log", 2);
		expect(queue).toEqual([
			{
				siteId,
				chatId: chat.chatId,
				event: "enter",
				requestTime: expect.any(Number),
				at: expect.any(Number),
			},
			{
				siteId,
				chatId: chat.chatId,
				event: "leave",
				reason: "assigned",
				requestTime: expect.any(Number),
				waitMs: expect.any(Number),
				at: expect.any(Number),
			},
		]);
		expect(queue[1]!.waitMs).toBeGreaterThanOrEqual(50);
		const statuses = await logged(siteId, "agentStatus.log", 2);
		expect(
			statuses.map(({ agentId, name, status }) => ({ agentId, name, status }))
		).toEqual([
			{ agentId: alice.agentId, name: "Alice", status: "online" },
			{ agentId: alice.agentId, name: "Alice", status: "away" },
		]);
	});
});
