import { describe, expect, it } from "vitest";
import {
	accept,
	api,
	createAgent,
	createSite,
	json,
	poll,
	send,
	startChat,
} from "./helpers.ts";

const manual = { routing: { mode: "manual" as const, sticky: false } };

async function post(
	siteId: string,
	chatId: string,
	what: string,
	token: string,
	body: unknown = {}
) {
	const res = await api(`/sites/${siteId}/chats/${chatId}/${what}`, {
		method: "POST",
		token,
		body: json(body),
	});
	return {
		status: res.status,
		body: await res.json<{
			chatId?: string;
			chatState?: string;
			messages?: { content: string }[];
			error?: { type: string };
		}>(),
	};
}

describe("join, invite and monitor (SPEC §4, §7)", () => {
	it("lets a supervisor join any live chat, with a system message, and read its whole history", async () => {
		const siteId = await createSite(manual);
		const alice = await createAgent(siteId, "Alice");
		const sam = await createAgent(siteId, "Sam", { role: "supervisor" });
		const chat = await startChat(siteId);
		await accept(siteId, chat.chatId, alice.token);
		await send(siteId, chat.chatId, chat.token, [0, 1], "can a manager help?");
		const joined = await post(siteId, chat.chatId, "join", sam.token);
		expect(joined.status).toBe(200);
		expect(joined.body.chatState).toBeTypeOf("string");
		const seen = await poll(siteId, chat.chatId, sam.token);
		expect(seen.body.messages.map((m) => m.content)).toEqual([
			"Alice joined the chat",
			"can a manager help?",
			"Sam joined the chat",
		]);
		// Now one of the chat's agents: Sam may send; joining again changes nothing.
		expect(
			(await send(siteId, chat.chatId, sam.token, [1, 2], "I can.")).status
		).toBe(200);
		expect((await post(siteId, chat.chatId, "join", sam.token)).status).toBe(
			200
		);
		expect(
			(await poll(siteId, chat.chatId, chat.token)).body.messages.filter(
				(m) => m.content === "Sam joined the chat"
			)
		).toHaveLength(1);
	});

	it("lets an agent join only after one of the chat's agents invited it; the uninvited get 403 and change nothing", async () => {
		const siteId = await createSite(manual);
		const alice = await createAgent(siteId, "Alice");
		const bob = await createAgent(siteId, "Bob");
		const carol = await createAgent(siteId, "Carol");
		const chat = await startChat(siteId);
		await accept(siteId, chat.chatId, alice.token);
		const uninvited = await post(siteId, chat.chatId, "join", bob.token);
		expect(uninvited.status).toBe(403);
		// Only the chat's agents invite; bad input is 400.
		expect(
			(
				await post(siteId, chat.chatId, "invite", carol.token, {
					agentId: bob.agentId,
				})
			).status
		).toBe(403);
		expect(
			(
				await post(siteId, chat.chatId, "invite", alice.token, {
					agent: bob.agentId,
				})
			).status
		).toBe(400);
		expect(
			(
				await post(siteId, chat.chatId, "invite", chat.token, {
					agentId: bob.agentId,
				})
			).status
		).toBe(403);
		expect(
			(await poll(siteId, chat.chatId, chat.token)).body.messages
		).toHaveLength(1);

		expect(
			(
				await post(siteId, chat.chatId, "invite", alice.token, {
					agentId: bob.agentId,
				})
			).status
		).toBe(200);
		expect((await post(siteId, chat.chatId, "join", bob.token)).status).toBe(
			200
		);
		expect((await post(siteId, chat.chatId, "join", carol.token)).status).toBe(
			403
		);
		const seen = await poll(siteId, chat.chatId, chat.token);
		expect(seen.body.messages.map((m) => m.content)).toEqual([
			"Alice joined the chat",
			"Bob joined the chat",
		]);
	});

	it("lets a supervisor monitor a chat without a trace: no system message, it reads but cannot send; agents may not monitor", async () => {
		const siteId = await createSite(manual);
		const alice = await createAgent(siteId, "Alice");
		const bob = await createAgent(siteId, "Bob");
		const sam = await createAgent(siteId, "Sam", { role: "supervisor" });
		const chat = await startChat(siteId);
		await accept(siteId, chat.chatId, alice.token);
		await send(siteId, chat.chatId, chat.token, [0, 1], "hello?");
		const watched = await post(siteId, chat.chatId, "monitor", sam.token);
		expect(watched.status).toBe(200);
		expect(watched.body.messages!.map((m) => m.content)).toEqual([
			"Alice joined the chat",
			"hello?",
		]);
		expect((await poll(siteId, chat.chatId, sam.token)).status).toBe(200);
		const refused = await send(siteId, chat.chatId, sam.token, [1, 1], "psst");
		expect(refused.status).toBe(403);
		expect((await post(siteId, chat.chatId, "monitor", bob.token)).status).toBe(
			403
		);
		// The visitor sees nothing of it.
		expect(
			(await poll(siteId, chat.chatId, chat.token)).body.messages.map(
				(m) => m.content
			)
		).toEqual(["Alice joined the chat", "hello?"]);
	});
});
