import { env, runInDurableObject } from "cloudflare:test";
import { describe, expect, it, vi } from "vitest";
import { chatRoom } from "../durable-objects/room-contract.ts";
import {
	accept,
	api,
	createAgent,
	createSite,
	poll,
	send,
	startChat,
} from "./helpers.ts";
import { until } from "./waiting.ts";
import type { ReturnResult } from "../src/protocol/chat.ts";

describe("offset protocol over HTTP", () => {
	it("appends to the right stream and answers with what the caller lacks", async () => {
		const siteId = await createSite();
		const chat = await startChat(siteId);
		const agent = await createAgent(siteId);

		const first = await send(siteId, chat.chatId, chat.token, [0, 0], "hello");
		expect(first.status).toBe(200);
		expect(first.body).toMatchObject({
			code: 0,
			visitorDataOffset: 1,
			agentDataOffset: 0,
		});
		expect(
			first.body.messages.map((m) => [m.type, m.dataOffset, m.content])
		).toEqual([[1, 1, "hello"]]);

		// An agent acts in the chat only once it has accepted it; the accept appends a system notice that it joined.
		expect(
			await send(siteId, chat.chatId, agent.token, [1, 0], "not yet")
		).toMatchObject({
			status: 403,
			body: { code: -1, error: { type: "not_in_chat" } },
		});
		const accepted = await accept(siteId, chat.chatId, agent.token);
		expect(accepted).toMatchObject({
			status: 200,
			body: { chatId: chat.chatId, chatState: expect.any(String) },
		});
		expect(
			(await poll(siteId, chat.chatId, chat.token, [1, 0])).body
		).toMatchObject({ agentDataOffset: 1, status: "chatting" });

		const reply = await send(
			siteId,
			chat.chatId,
			agent.token,
			[1, 0],
			"hi, how can I help?"
		);
		// The agent's first message into the chat comes after the system notice that it joined.
		expect(reply.body).toMatchObject({
			code: 0,
			visitorDataOffset: 1,
			agentDataOffset: 2,
		});
		expect(reply.body.messages.map((m) => [m.type, m.dataOffset])).toEqual([
			[4, 1],
			[2, 2],
		]);
		expect(reply.body.chatState).toBeTypeOf("string");

		const polled = await poll(siteId, chat.chatId, chat.token, [1, 0]);
		expect(polled.body.messages.map((m) => m.content)).toEqual([
			"Alice joined the chat",
			"hi, how can I help?",
		]);
		expect(polled.body.status).toBe("chatting");
	});

	it("answers code 1 with its offsets when the caller is ahead, and applies nothing", async () => {
		const siteId = await createSite();
		const chat = await startChat(siteId);
		await send(siteId, chat.chatId, chat.token, [0, 0], "one");
		const ahead = await send(
			siteId,
			chat.chatId,
			chat.token,
			[5, 0],
			"never stored"
		);
		expect(ahead.body).toEqual({
			code: 1,
			visitorDataOffset: 1,
			agentDataOffset: 0,
			messages: [],
		});
		const after = await poll(siteId, chat.chatId, chat.token);
		expect(after.body.messages.map((m) => m.content)).toEqual(["one"]);
	});

	it("treats a resent id as the same message", async () => {
		const siteId = await createSite();
		const chat = await startChat(siteId);
		const id = crypto.randomUUID();
		const a = await send(siteId, chat.chatId, chat.token, [0, 0], "once", id);
		const b = await send(siteId, chat.chatId, chat.token, [0, 0], "once", id);
		const c = await send(siteId, chat.chatId, chat.token, [1, 0], "once", id);
		expect(b.body.code).toBe(0);
		expect(b.body.messages).toEqual(a.body.messages);
		expect(c.body.messages).toEqual(a.body.messages);
		expect(c.body.visitorDataOffset).toBe(1);
		const all = await poll(siteId, chat.chatId, chat.token);
		expect(all.body.messages).toHaveLength(1);
	});

	it("long-polls with ?wait= until a message arrives, and returns at once when it already has news", async () => {
		const siteId = await createSite();
		const chat = await startChat(siteId);
		const agent = await createAgent(siteId);
		await accept(siteId, chat.chatId, agent.token);
		const room = chatRoom(env, siteId, chat.chatId);
		// The room's held polls (it keeps their wake-ups): what a test can see of "waiting" without a clock.
		const heldPolls = () =>
			runInDurableObject(
				room,
				(instance) =>
					(instance as unknown as { waiters: Set<() => void> }).waiters
			);
		let answered = false;
		// The agent holds its join notice (agent offset 1): nothing newer yet.
		const waiting = api(
			`/sites/${siteId}/chats/${chat.chatId}/messages?wait=10`,
			{ token: agent.token, offsets: [0, 1] }
		).then(async (res) => {
			answered = true;
			return res.json<ReturnResult>();
		});
		await until(async () => (await heldPolls()).size === 1, "the poll held");
		expect(answered).toBe(false); // still waiting
		await send(siteId, chat.chatId, chat.token, [0, 0], "anyone there?");
		// The send released it, not its 10 s: it is no longer held once the send is answered.
		expect((await heldPolls()).size).toBe(0);
		expect((await waiting).messages.map((m) => m.content)).toEqual([
			"anyone there?",
		]);

		// With news already there, the poll is answered without being held at all.
		const holds = vi.spyOn(await heldPolls(), "add");
		const news = await api(
			`/sites/${siteId}/chats/${chat.chatId}/messages?wait=10`,
			{ token: agent.token, offsets: [0, 1] }
		);
		expect((await news.json<ReturnResult>()).messages).toHaveLength(1);
		expect(holds).not.toHaveBeenCalled();
	});
});
