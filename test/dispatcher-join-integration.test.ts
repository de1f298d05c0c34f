import { runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { dispatcherOf, myChats, online } from "./dispatch.ts";
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
		await online(siteId, bob.token);
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

	it("lets nobody join beyond its maxChats: 409 at_capacity, and the chat is unchanged", async () => {
		const siteId = await createSite(manual);
		const alice = await createAgent(siteId, "Alice");
		const sam = await createAgent(siteId, "Sam", {
			role: "supervisor",
			maxChats: 1,
		});
		const [first, second] = [await startChat(siteId), await startChat(siteId)];
		for (const chat of [first, second])
			expect((await accept(siteId, chat.chatId, alice.token)).status).toBe(200);
		expect((await post(siteId, first.chatId, "join", sam.token)).status).toBe(
			200
		);
		const full = await post(siteId, second.chatId, "join", sam.token);
		expect(full.status).toBe(409);
		expect(full.body.error?.type).toBe("at_capacity");
		expect(
			(await poll(siteId, second.chatId, second.token)).body.messages.map(
				(m) => m.content
			)
		).toEqual(["Alice joined the chat"]);
		expect(await myChats(siteId, sam.token)).toEqual([first.chatId]);
		// Joining a chat it is in already is no new load.
		expect((await post(siteId, first.chatId, "join", sam.token)).status).toBe(
			200
		);
	});

	it("invites only an online agent of the site: 404 for a made-up or another site's agent, 409 for one offline", async () => {
		const siteId = await createSite(manual);
		const alice = await createAgent(siteId, "Alice");
		const bob = await createAgent(siteId, "Bob");
		const stranger = await createAgent(await createSite(manual), "Stranger");
		const chat = await startChat(siteId);
		await accept(siteId, chat.chatId, alice.token);
		const invite = (agentId: string) =>
			post(siteId, chat.chatId, "invite", alice.token, { agentId });
		expect((await invite("made-up")).status).toBe(404);
		expect((await invite(stranger.agentId)).status).toBe(404);
		const offline = await invite(bob.agentId);
		expect(offline.status).toBe(409);
		expect(offline.body.error?.type).toBe("conflict");
		// Invited while offline, Bob could not join.
		expect((await post(siteId, chat.chatId, "join", bob.token)).status).toBe(
			403
		);
		await online(siteId, bob.token);
		expect((await invite(bob.agentId)).status).toBe(200);
		expect((await post(siteId, chat.chatId, "join", bob.token)).status).toBe(
			200
		);
	});

	it("stops counting a chat whose room refuses the agent's accept (it was transferred away while the dispatcher still counted it)", async () => {
		const siteId = await createSite(manual);
		const alice = await createAgent(siteId, "Alice", { maxChats: 2 });
		const bob = await createAgent(siteId, "Bob");
		await online(siteId, bob.token);
		const chat = await startChat(siteId);
		await accept(siteId, chat.chatId, alice.token);
		expect(
			(
				await post(siteId, chat.chatId, "transfer", alice.token, {
					toAgentId: bob.agentId,
				})
			).status
		).toBe(200);
		// As if the dispatcher had missed that the chat left Alice.
		await runInDurableObject(dispatcherOf(siteId), (instance) => {
			const { agents } = (
				instance as unknown as {
					state: { agents: Map<string, { chats: string[] }> };
				}
			).state;
			agents.get(alice.agentId)!.chats.push(chat.chatId);
		});
		expect(await myChats(siteId, alice.token)).toEqual([chat.chatId]);
		const again = await accept(siteId, chat.chatId, alice.token);
		expect(again.status).toBe(409);
		expect(await myChats(siteId, alice.token)).toEqual([]);
	});
});
