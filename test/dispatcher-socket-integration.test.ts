import { env, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { AgentConsole } from "./consoles.ts";
import { dispatcherOf } from "./dispatch.ts";
import { api, createAgent, createSite, poll, startChat } from "./helpers.ts";
import type { AgentPresence } from "../durable-objects/dispatch-model.ts";
import type { SiteDispatcher } from "../durable-objects/site-dispatcher.ts";
import type {
	AgentServerFrame,
	AgentSummary,
} from "../src/protocol/dispatch.ts";

const manual = { routing: { mode: "manual" as const, sticky: false } };

describe("the agent socket (SPEC §7)", () => {
	it("brings an agent online with its hello, shows presence and queue, and takes a chat with an accept frame", async () => {
		const siteId = await createSite(manual);
		const alice = await createAgent(siteId, "Alice");
		const waiting = await startChat(siteId);
		const console = await AgentConsole.open(siteId, alice.token);
		const { agents } = await (
			await api(`/sites/${siteId}/agents`, { token: alice.token })
		).json<{ agents: AgentSummary[] }>();
		expect(agents[0]).toMatchObject({ name: "Alice", status: "online" });
		const presence = (await console.next(
			(f) => f.type === "presence"
		)) as Extract<AgentServerFrame, { type: "presence" }>;
		expect(presence.agents.map((a) => a.name)).toContain("Alice");
		console.send({ type: "accept", chatId: waiting.chatId });
		const assigned = (await console.next(
			(f) => f.type === "assigned"
		)) as Extract<AgentServerFrame, { type: "assigned" }>;
		expect(assigned.chatId).toBe(waiting.chatId);
		expect((await poll(siteId, waiting.chatId, alice.token)).body.status).toBe(
			"chatting"
		);
		// A status frame: away agents stay listed, and availability says nobody is online to route to.
		console.send({ type: "status", status: "away" });
		await console.next(
			(f) =>
				f.type === "presence" &&
				f.agents.some((a) => a.name === "Alice" && a.status === "away")
		);
		expect(await (await api(`/sites/${siteId}/availability`)).json()).toEqual({
			online: false,
			waiting: 0,
		});
	});

	it("answers bad frames with an error frame and changes nothing; a refused accept names its chat", async () => {
		const siteId = await createSite(manual);
		const alice = await createAgent(siteId, "Alice", { maxChats: 1 });
		const [one, two] = [await startChat(siteId), await startChat(siteId)];
		const console = await AgentConsole.open(siteId, alice.token);
		for (const bad of [
			"not json",
			{ type: "accept", chatId: "not-a-uuid" },
			{ type: "status", status: "busy" },
			{ type: "dance" },
			{ type: "hello", token: alice.token },
		]) {
			console.send(bad);
			const error = (await console.next((f) => f.type === "error")) as Extract<
				AgentServerFrame,
				{ type: "error" }
			>;
			expect(error.error.type).toBe("invalid_request");
		}
		expect(console.closed).toBe(false);
		console.send({ type: "accept", chatId: one.chatId });
		await console.next((f) => f.type === "assigned");
		console.send({ type: "accept", chatId: two.chatId });
		const refused = (await console.next((f) => f.type === "error")) as Extract<
			AgentServerFrame,
			{ type: "error" }
		>;
		expect(refused).toMatchObject({
			chatId: two.chatId,
			error: { type: "at_capacity" },
		});
		expect((await poll(siteId, two.chatId, two.token)).body.status).toBe(
			"waiting"
		);
	});

	it("closes a socket with 4401 that says anything before a valid hello, and counts nobody online", async () => {
		const siteId = await createSite(manual);
		const visitor = await startChat(siteId);
		for (const first of [
			{ type: "status", status: "online" },
			{ type: "hello", token: "forged", status: "online", chats: [] },
			{ type: "hello", token: visitor.token, status: "online", chats: [] },
		]) {
			const console = await AgentConsole.connect(siteId);
			console.send(first);
			expect(await console.closedAfter()).toBe(4401);
		}
		// An agent of another site is refused too.
		const other = await createSite(manual);
		const stranger = await createAgent(other, "Stranger");
		const console = await AgentConsole.connect(siteId);
		console.send({
			type: "hello",
			token: stranger.token,
			status: "online",
			chats: [],
		});
		expect(await console.closedAfter()).toBe(4401);
		expect(await (await api(`/sites/${siteId}/availability`)).json()).toEqual({
			online: false,
			waiting: 1,
		});
		// Not an upgrade, or a made-up site: no socket.
		expect((await api(`/sites/${siteId}/agents/me/ws`)).status).toBe(426);
	});

	it("closes a console that sends more frames a second than the site allows, with 4429, as a chat socket", async () => {
		const siteId = await createSite({
			...manual,
			limits: { framesPerSecondPerSocket: 5 },
		});
		const alice = await createAgent(siteId, "Alice");
		const console = await AgentConsole.open(siteId, alice.token);
		for (let i = 0; i < 30; i++)
			console.send({ type: "status", status: i % 2 ? "online" : "away" });
		expect(await console.closedAfter()).toBe(4429);
	});

	it("writes nothing for a status frame that changes nothing", async () => {
		const siteId = await createSite(manual);
		const alice = await createAgent(siteId, "Alice");
		const console = await AgentConsole.open(siteId, alice.token);
		const dispatcher = dispatcherOf(siteId);
		type Inside = { state: { agents: Map<string, AgentPresence> } };
		// The record as the hello wrote it, marked in memory so that any rewrite shows.
		const stored = await runInDurableObject(
			dispatcher,
			(instance: SiteDispatcher, ctx) => {
				const agent = (instance as unknown as Inside).state.agents.get(
					alice.agentId
				)!;
				agent.lastSeen = 1;
				return ctx.storage.kv.get<AgentPresence>(`agent:${alice.agentId}`);
			}
		);
		for (let i = 0; i < 3; i++)
			console.send({ type: "status", status: "online" });
		// Frames are handled in order: the answer to a bad one says the three before it were.
		console.send({ type: "dance" });
		await console.next((f) => f.type === "error");
		const after = await runInDurableObject(
			dispatcher,
			(instance: SiteDispatcher, ctx) => ({
				memory: (instance as unknown as Inside).state.agents.get(alice.agentId),
				storage: ctx.storage.kv.get<AgentPresence>(`agent:${alice.agentId}`),
			})
		);
		expect(after.memory).toMatchObject({ declared: "online", lastSeen: 1 });
		if (env.CHAT_STATE === "durable") expect(after.storage).toEqual(stored);
	});
});
