import {
	abortAllDurableObjects,
	env,
	runDurableObjectAlarm,
	runInDurableObject,
} from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { chatRoom } from "../../durable-objects/room-contract.ts";
import { SiteDispatcher } from "../../durable-objects/site-dispatcher.ts";
import { AgentConsole as Console } from "../consoles.ts";
import { dispatcherOf, myChats } from "../dispatch.ts";
import {
	accept,
	api,
	createAgent,
	createSite,
	eventually,
	poll,
	rebuild,
	startChat,
} from "../helpers.ts";
import { endChat } from "../queue-helpers.ts";
import type { ReturnResult, StartChatResult } from "../../src/protocol/chat.ts";
import type {
	AgentServerFrame,
	AgentSummary,
	QueueEntry,
} from "../../src/protocol/dispatch.ts";

/** What a visitor's client does after the room lost its chat: its next call answers code 1, it uploads its copy. */
async function visitorCarriesOn(
	siteId: string,
	chat: StartChatResult,
	copy: ReturnResult
) {
	const lost = await poll(siteId, chat.chatId, chat.token);
	expect(lost.body.code).toBe(1);
	const back = await rebuild(siteId, chat.chatId, chat.token, {
		chatState: copy.chatState,
		visitorDataOffset: copy.visitorDataOffset,
		agentDataOffset: copy.agentDataOffset,
		messages: copy.messages,
	});
	expect(back.status).toBe(200);
}

describe("a SiteDispatcher that lost everything (memory mode) comes back from its clients", () => {
	it("has presence, queue order and assignments back from consoles' hellos and waiting rooms, with no chat assigned twice and none dropped", async () => {
		const siteId = await createSite({
			routing: { mode: "auto", sticky: false },
		});
		const alice = await createAgent(siteId, "Alice", { maxChats: 1 });
		const bob = await createAgent(siteId, "Bob", { maxChats: 1 });
		const aliceConsole = await Console.open(siteId, alice.token);
		const first = await startChat(siteId, { name: "First" });
		const assigned = (await aliceConsole.next(
			(f) => f.type === "assigned"
		)) as Extract<AgentServerFrame, { type: "assigned" }>;
		expect(assigned.chatId).toBe(first.chatId);
		const firstCopy = (await poll(siteId, first.chatId, first.token)).body;
		const second = await startChat(siteId, { name: "Second" });
		const third = await startChat(siteId, { name: "Third" });
		expect([second.queuePosition, third.queuePosition]).toEqual([1, 2]);

		await abortAllDurableObjects();
		await aliceConsole.whenClosed();

		// The waiting visitors carry on (the later one first); the chatting one too. Their rooms come back and re-register.
		const fresh = (c: StartChatResult): ReturnResult => ({
			code: 0,
			chatState: c.chatState,
			visitorDataOffset: 0,
			agentDataOffset: 0,
			messages: [],
		});
		await visitorCarriesOn(siteId, third, fresh(third));
		await visitorCarriesOn(siteId, second, fresh(second));
		await visitorCarriesOn(siteId, first, firstCopy);
		// Restored from their visitors' copies, the waiting chats are held out of routing until their rooms
		// register them again from the alarm (run here), so that a console holding one elsewhere says hello first.
		for (const c of [third, second])
			await runDurableObjectAlarm(chatRoom(env, siteId, c.chatId));
		// Alice's console reconnects and says hello with the chat it has.
		const again = await Console.open(siteId, alice.token, [first.chatId]);

		const waiting = await eventually(
			async () =>
				(
					await (
						await api(`/sites/${siteId}/queue`, { token: alice.token })
					).json<{ waiting: QueueEntry[] }>()
				).waiting,
			(w) => w.length === 2
		);
		expect(waiting.map((w) => [w.chatId, w.position])).toEqual([
			[second.chatId, 1],
			[third.chatId, 2],
		]);
		const { agents } = await (
			await api(`/sites/${siteId}/agents`, { token: alice.token })
		).json<{ agents: AgentSummary[] }>();
		expect(agents.find((a) => a.id === alice.agentId)).toMatchObject({
			status: "online",
			free: 0,
		});
		const mine = await (
			await api(`/sites/${siteId}/agents/me/chats`, { token: alice.token })
		).json<{ chats: { chatId: string }[] }>();
		expect(mine.chats.map((c) => c.chatId)).toEqual([first.chatId]);

		// No chat is assigned twice: Bob cannot take Alice's, and comes online to the oldest waiting one.
		expect((await accept(siteId, first.chatId, bob.token)).status).toBe(409);
		const bobConsole = await Console.open(siteId, bob.token);
		expect(
			(
				(await bobConsole.next((f) => f.type === "assigned")) as {
					chatId: string;
				}
			).chatId
		).toBe(second.chatId);
		// No waiting chat is dropped: Alice's chat ends, and the last one goes to her.
		const end = await endChat(siteId, first.chatId, first.token, [0, 1]);
		expect(end.status).toBe(200);
		expect(
			((await again.next((f) => f.type === "assigned")) as { chatId: string })
				.chatId
		).toBe(third.chatId);
		const visitors = await Promise.all(
			[second, third].map(async (c) =>
				(await poll(siteId, c.chatId, c.token)).body.messages.map(
					(m) => m.content
				)
			)
		);
		expect(visitors).toEqual([
			["Bob joined the chat"],
			["Alice joined the chat"],
		]);
	});
});

/** The console's next `assigned`; routing waits until the agent's claims are answered, so this also says they are. */
async function assignedTo(console: Console): Promise<string> {
	return (
		(await console.next((f) => f.type === "assigned")) as Extract<
			AgentServerFrame,
			{ type: "assigned" }
		>
	).chatId;
}

describe("a memory-mode SiteDispatcher and its consoles' claims (SPEC §7)", () => {
	it("wakes from hibernation without the chat that ended meanwhile: what the open consoles hold is asked of the rooms, not believed", async () => {
		const siteId = await createSite({
			routing: { mode: "auto", sticky: false },
		});
		const alice = await createAgent(siteId, "Alice", { maxChats: 3 });
		const first = await Console.open(siteId, alice.token);
		const [ended, going] = [await startChat(siteId), await startChat(siteId)];
		await assignedTo(first);
		await assignedTo(first);
		// A reload: the new console lists both chats; then the visitor ends one.
		first.close();
		const reloaded = await Console.open(siteId, alice.token, [
			ended.chatId,
			going.chatId,
		]);
		expect((await endChat(siteId, ended.chatId, ended.token)).status).toBe(200);
		await reloaded.next((f) => f.type === "released");
		expect(await myChats(siteId, alice.token)).toEqual([going.chatId]);

		// The dispatcher goes idle and wakes with nothing in memory: a new instance over the same sockets.
		const woken = await runInDurableObject(
			dispatcherOf(siteId),
			async (_instance: SiteDispatcher, ctx) => {
				const instance = new SiteDispatcher(ctx, env);
				const claims = (
					instance as unknown as {
						claims?: { settled(agentId: string): Promise<void> };
					}
				).claims;
				await claims?.settled(alice.agentId);
				return {
					chats: (await instance.chatsOf(alice.agentId)).map((c) => c.chatId),
					alice: (await instance.presence()).find(
						(a) => a.id === alice.agentId
					),
				};
			}
		);
		expect(woken.chats).toEqual([going.chatId]);
		expect(woken.alice).toMatchObject({ status: "online", free: 2 });
	});

	it("neither counts nor releases a chat whose room lost it (unknown), and counts it once its clients rebuilt the room", async () => {
		const siteId = await createSite({
			routing: { mode: "auto", sticky: false },
		});
		const alice = await createAgent(siteId, "Alice", { maxChats: 2 });
		const console = await Console.open(siteId, alice.token);
		const chat = await startChat(siteId);
		expect(await assignedTo(console)).toBe(chat.chatId);
		const copy = (await poll(siteId, chat.chatId, chat.token)).body;

		await abortAllDurableObjects();
		const again = await Console.open(siteId, alice.token, [chat.chatId]);
		const next = await startChat(siteId);
		expect(await assignedTo(again)).toBe(next.chatId);
		// Its room has no chat: not counted, and not released (the console's copy is what rebuilds it).
		expect(await myChats(siteId, alice.token)).toEqual([next.chatId]);
		expect(again.frames.filter((f) => f.type === "released")).toEqual([]);

		await visitorCarriesOn(siteId, chat, copy);
		// The dispatcher asks again from its alarm (run now, unless it ran already).
		await runDurableObjectAlarm(dispatcherOf(siteId));
		expect((await myChats(siteId, alice.token)).sort()).toEqual(
			[chat.chatId, next.chatId].sort()
		);
		const { agents } = await (
			await api(`/sites/${siteId}/agents`, { token: alice.token })
		).json<{ agents: AgentSummary[] }>();
		expect(agents.find((a) => a.id === alice.agentId)?.free).toBe(0);
	});

	it("tells a console whose claim its room could not answer yet that the chat ended, when it ends meanwhile", async () => {
		const siteId = await createSite({
			routing: { mode: "auto", sticky: false },
		});
		const alice = await createAgent(siteId, "Alice", { maxChats: 2 });
		const console = await Console.open(siteId, alice.token);
		const chat = await startChat(siteId);
		expect(await assignedTo(console)).toBe(chat.chatId);
		const copy = (await poll(siteId, chat.chatId, chat.token)).body;

		await abortAllDurableObjects();
		const again = await Console.open(siteId, alice.token, [chat.chatId]);
		// Routing waits for the claims to be answered: the assignment says the claim is unanswered now.
		const next = await startChat(siteId);
		expect(await assignedTo(again)).toBe(next.chatId);
		await visitorCarriesOn(siteId, chat, copy);
		expect(
			(await endChat(siteId, chat.chatId, chat.token, [0, 1])).status
		).toBe(200);
		expect(await again.next((f) => f.type === "released")).toEqual({
			type: "released",
			chatId: chat.chatId,
			reason: "ended",
		});
	});
});
