/** SPEC §7: a console's hello lists its chats as a claim; the dispatcher counts or lists one only once its room says it is live. */
import { abortAllDurableObjects, env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { AgentConsole } from "./consoles.ts";
import { myChats } from "./dispatch.ts";
import {
	api,
	createAgent,
	createSite,
	eventually,
	poll,
	rebuild,
	startChat,
} from "./helpers.ts";
import { endChat } from "./queue-helpers.ts";
import type { ReturnResult, StartChatResult } from "../src/protocol/chat.ts";
import type {
	AgentServerFrame,
	AgentSummary,
} from "../src/protocol/dispatch.ts";

const auto = { routing: { mode: "auto" as const, sticky: false } };

async function freeOf(siteId: string, token: string, agentId: string) {
	const { agents } = await (
		await api(`/sites/${siteId}/agents`, { token })
	).json<{ agents: AgentSummary[] }>();
	return agents.find((a) => a.id === agentId)?.free;
}

async function liveChats(siteId: string, supervisorToken: string) {
	const res = await api(`/sites/${siteId}/live-chats`, {
		token: supervisorToken,
	});
	expect(res.status).toBe(200);
	return (await res.json<{ chats: { chatId: string }[] }>()).chats
		.map((c) => c.chatId)
		.sort();
}

/** The console's next `assigned`: routing waits until the agent's claims are answered, so this also says they are. */
async function assignedTo(console: AgentConsole): Promise<string> {
	const frame = (await console.next((f) => f.type === "assigned")) as Extract<
		AgentServerFrame,
		{ type: "assigned" }
	>;
	return frame.chatId;
}

/** In memory mode the rooms lost their chats with the abort: each visitor's client uploads its copy on its next call. */
async function visitorsCarryOn(
	siteId: string,
	chats: [StartChatResult, ReturnResult][]
) {
	if (env.CHAT_STATE !== "memory") return;
	for (const [chat, copy] of chats) {
		expect((await poll(siteId, chat.chatId, chat.token)).body.code).toBe(1);
		const back = await rebuild(siteId, chat.chatId, chat.token, {
			chatState: copy.chatState,
			visitorDataOffset: copy.visitorDataOffset,
			agentDataOffset: copy.agentDataOffset,
			messages: copy.messages,
		});
		expect(back.status).toBe(200);
	}
}

describe("a console's hello is a claim (SPEC §7)", () => {
	it("lists none of 200 made-up chat ids, counts none against the agent and releases none (their rooms know nothing: unknown)", async () => {
		const siteId = await createSite(auto);
		const alice = await createAgent(siteId, "Alice", { maxChats: 2 });
		const boss = await createAgent(siteId, "Boss", { role: "supervisor" });
		const madeUp = Array.from({ length: 200 }, () => crypto.randomUUID());
		const console = await AgentConsole.open(siteId, alice.token, madeUp);

		const chat = await startChat(siteId);
		expect(await assignedTo(console)).toBe(chat.chatId);
		expect(await myChats(siteId, alice.token)).toEqual([chat.chatId]);
		expect(await freeOf(siteId, alice.token, alice.agentId)).toBe(1);
		expect(await liveChats(siteId, boss.token)).toEqual([chat.chatId]);
		expect(console.frames.filter((f) => f.type === "released")).toEqual([]);
	});

	it("does not bring back a chat that ended after the agent reloaded its console: the console that still lists it is told it is stale", async () => {
		const siteId = await createSite(auto);
		const alice = await createAgent(siteId, "Alice", { maxChats: 3 });
		const boss = await createAgent(siteId, "Boss", { role: "supervisor" });
		const first = await AgentConsole.open(siteId, alice.token);
		const [ended, going] = [
			await startChat(siteId, { name: "Ended" }),
			await startChat(siteId, { name: "Going" }),
		];
		expect([await assignedTo(first), await assignedTo(first)].sort()).toEqual(
			[ended.chatId, going.chatId].sort()
		);
		// The agent reloads: the new console lists the chats it had.
		first.close();
		const reloaded = await AgentConsole.open(siteId, alice.token, [
			ended.chatId,
			going.chatId,
		]);
		expect((await endChat(siteId, ended.chatId, ended.token)).status).toBe(200);
		await reloaded.next(
			(f) =>
				f.type === "released" &&
				f.chatId === ended.chatId &&
				f.reason === "ended"
		);
		const copies: [StartChatResult, ReturnResult][] = [];
		for (const chat of [ended, going])
			copies.push([chat, (await poll(siteId, chat.chatId, chat.token)).body]);

		// The dispatcher loses what it held in memory; a console that missed the release lists the ended chat again.
		await abortAllDurableObjects();
		await eventually(
			async () => reloaded.closed,
			(closed) => closed
		);
		await visitorsCarryOn(siteId, copies);
		const again = await AgentConsole.open(siteId, alice.token, [
			ended.chatId,
			going.chatId,
		]);
		expect(await again.next((f) => f.type === "released")).toEqual({
			type: "released",
			chatId: ended.chatId,
			reason: "stale",
		});

		const next = await startChat(siteId, { name: "Next" });
		expect(await assignedTo(again)).toBe(next.chatId);
		expect((await myChats(siteId, alice.token)).sort()).toEqual(
			[going.chatId, next.chatId].sort()
		);
		expect(await freeOf(siteId, alice.token, alice.agentId)).toBe(1);
		expect(await liveChats(siteId, boss.token)).toEqual(
			[going.chatId, next.chatId].sort()
		);
	});

	it("tells a console that lists a chat transferred away from its agent that it is stale, and counts it for the new agent only", async () => {
		const siteId = await createSite({
			routing: { mode: "manual", sticky: false },
		});
		const alice = await createAgent(siteId, "Alice", { maxChats: 2 });
		const bob = await createAgent(siteId, "Bob", { maxChats: 2 });
		const chat = await startChat(siteId);
		const bobConsole = await AgentConsole.open(siteId, bob.token);
		const aliceConsole = await AgentConsole.open(siteId, alice.token);
		aliceConsole.send({ type: "accept", chatId: chat.chatId });
		expect(await assignedTo(aliceConsole)).toBe(chat.chatId);
		const moved = await api(`/sites/${siteId}/chats/${chat.chatId}/transfer`, {
			method: "POST",
			token: alice.token,
			body: JSON.stringify({ toAgentId: bob.agentId }),
		});
		expect(moved.status).toBe(200);
		expect(await assignedTo(bobConsole)).toBe(chat.chatId);

		// Alice signs in again somewhere that still holds the chat.
		const elsewhere = await AgentConsole.open(siteId, alice.token, [
			chat.chatId,
		]);
		expect(await elsewhere.next((f) => f.type === "released")).toEqual({
			type: "released",
			chatId: chat.chatId,
			reason: "stale",
		});
		expect(await myChats(siteId, alice.token)).toEqual([]);
		expect(await freeOf(siteId, alice.token, alice.agentId)).toBe(2);
		expect(await myChats(siteId, bob.token)).toEqual([chat.chatId]);
	});
});
