/** SPEC §7: the SiteDispatcher hands chats on (transfer), times silent agents out and lists agents with their presence. */
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import {
	dispatcherOf,
	myChats,
	online,
	routedTo,
	setStatus,
} from "./dispatch.ts";
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
import type { SiteDispatcher } from "../durable-objects/site-dispatcher.ts";
import type { AgentSummary } from "../src/protocol/dispatch.ts";

describe("SiteDispatcher: transfer", () => {
	it("hands a chat to an online agent with room: the room swaps the agents with a system message, the new one reads the whole history", async () => {
		const siteId = await createSite({
			routing: { mode: "manual", sticky: false },
		});
		const alice = await createAgent(siteId, "Alice");
		const bob = await createAgent(siteId, "Bob", { maxChats: 1 });
		const carol = await createAgent(siteId, "Carol");
		const chat = await startChat(siteId);
		expect((await accept(siteId, chat.chatId, alice.token)).status).toBe(200);
		await send(siteId, chat.chatId, chat.token, [0, 1], "my order is late");
		const transfer = (token: string, toAgentId: string) =>
			api(`/sites/${siteId}/chats/${chat.chatId}/transfer`, {
				method: "POST",
				token,
				body: json({ toAgentId }),
			});

		// Bob is offline: 409, nothing changes.
		const offline = await transfer(alice.token, bob.agentId);
		expect(offline.status).toBe(409);
		await online(siteId, bob.token);
		// Carol is not in the chat: she may not hand it on.
		await online(siteId, carol.token);
		expect((await transfer(carol.token, bob.agentId)).status).toBe(403);
		// Bad input: 400, nothing changes.
		expect(
			(
				await api(`/sites/${siteId}/chats/${chat.chatId}/transfer`, {
					method: "POST",
					token: alice.token,
					body: json({ to: bob.agentId }),
				})
			).status
		).toBe(400);
		expect(await myChats(siteId, alice.token)).toEqual([chat.chatId]);

		const moved = await transfer(alice.token, bob.agentId);
		expect(moved.status).toBe(200);
		expect(await myChats(siteId, alice.token)).toEqual([]);
		expect(await myChats(siteId, bob.token)).toEqual([chat.chatId]);
		const history = await poll(siteId, chat.chatId, bob.token);
		expect(history.status).toBe(200);
		expect(history.body.messages.map((m) => m.content)).toEqual([
			"Alice joined the chat",
			"my order is late",
			"Alice transferred the chat to Bob",
		]);
		// Alice is out of the chat now; Bob is full, so no more transfers to him.
		expect((await poll(siteId, chat.chatId, alice.token)).status).toBe(403);
		const second = await startChat(siteId);
		await accept(siteId, second.chatId, alice.token);
		const full = await api(`/sites/${siteId}/chats/${second.chatId}/transfer`, {
			method: "POST",
			token: alice.token,
			body: json({ toAgentId: bob.agentId }),
		});
		expect(full.status).toBe(409);
		expect((await full.json<{ error: { type: string } }>()).error.type).toBe(
			"at_capacity"
		);
	});
});

describe("SiteDispatcher: presence and listings", () => {
	it("times an agent out 60 s after its last heartbeat: offline in the list, no new chats routed to it", async () => {
		const siteId = await createSite();
		const alice = await createAgent(siteId, "Alice");
		await online(siteId, alice.token);
		const before = await api(`/sites/${siteId}/availability`);
		expect(await before.json()).toEqual({ online: true, waiting: 0 });
		// A minute passes without a heartbeat.
		await runInDurableObject(
			dispatcherOf(siteId),
			(instance: SiteDispatcher) => {
				const state = (
					instance as unknown as {
						state: { agents: Map<string, { lastSeen: number }> };
					}
				).state;
				for (const agent of state.agents.values()) agent.lastSeen -= 61_000;
			}
		);
		await runDurableObjectAlarm(dispatcherOf(siteId));
		const agents = await (
			await api(`/sites/${siteId}/agents`, { token: alice.token })
		).json<{ agents: AgentSummary[] }>();
		expect(agents.agents.map((a) => [a.name, a.status])).toEqual([
			["Alice", "offline"],
		]);
		const chat = await startChat(siteId);
		expect(chat.status).toBe("waiting");
		expect(await (await api(`/sites/${siteId}/availability`)).json()).toEqual({
			online: false,
			waiting: 1,
		});
		// Her next heartbeat brings her back, and the waiting chat goes to her.
		await online(siteId, alice.token);
		expect(await routedTo(siteId, alice.token, 1)).toEqual([chat.chatId]);
	});

	it("lists every agent of the site with presence and free capacity; visitors and bad input are refused", async () => {
		const siteId = await createSite();
		const alice = await createAgent(siteId, "Alice", { maxChats: 2 });
		await createAgent(siteId, "Bob", { maxChats: 4 });
		await online(siteId, alice.token);
		await startChat(siteId);
		await routedTo(siteId, alice.token, 1);
		const { agents } = await (
			await api(`/sites/${siteId}/agents`, { token: alice.token })
		).json<{ agents: AgentSummary[] }>();
		expect(agents.map((a) => [a.name, a.status, a.maxChats, a.free])).toEqual([
			["Alice", "online", 2, 1],
			["Bob", "offline", 4, 4],
		]);
		const visitor = await startChat(siteId);
		for (const path of ["/agents", "/queue", "/agents/me/chats"])
			expect(
				(await api(`/sites/${siteId}${path}`, { token: visitor.token })).status
			).toBe(403);
		expect((await setStatus(siteId, alice.token, "busy")).status).toBe(400);
		expect((await api(`/sites/${siteId}/queue`)).status).toBe(401);
		expect((await api(`/sites/no-such-site/availability`)).status).toBe(404);
	});
});
