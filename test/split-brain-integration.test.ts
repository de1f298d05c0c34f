/**
 * SPEC §7, "no chat is assigned twice": when the room's copy came back from a client (a failover
 * deployment, an eviction) it may be behind an agent that holds the chat elsewhere. A room that gave
 * the chat to another agent meanwhile keeps the one assigned first once both copies meet, and the
 * dispatcher hears from the room who has the chat: the other agent's socket, count and console let go,
 * a console that never had its chat gets it, and a restored waiting chat is not routed while a console
 * may hold it.
 */
import {
	abortAllDurableObjects,
	env,
	runDurableObjectAlarm,
	runInDurableObject,
} from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { AgentConsole } from "./consoles.ts";
import { dispatcherOf, myChats, queue } from "./dispatch.ts";
import {
	accept,
	createAgent,
	createSite,
	eventually,
	poll,
	rebuildWithState,
	startChat,
} from "./helpers.ts";
import { loseChat } from "./lose-chat.ts";
import { passRoomTime, roomOf } from "./room-clock.ts";
import { TestSocket } from "./sockets.ts";
import type { StartChatResult } from "../src/protocol/chat.ts";
import type { AgentServerFrame } from "../src/protocol/dispatch.ts";

const manual = { routing: { mode: "manual" as const, sticky: false } };
const auto = { routing: { mode: "auto" as const, sticky: false } };

const assigned = (chatId: string) => (f: AgentServerFrame) =>
	f.type === "assigned" && f.chatId === chatId;

describe("a chat routed apart on two copies keeps the agent assigned first", () => {
	it("takes the later agent out when the first one's copy comes back: socket 4403, reads refused, released by the dispatcher", async () => {
		const siteId = await createSite(manual);
		const alice = await createAgent(siteId, "Alice");
		const bob = await createAgent(siteId, "Bob");
		const chat = await startChat(siteId);
		const accepted = await accept(siteId, chat.chatId, alice.token);
		expect(accepted.status).toBe(200);
		const aliceState = accepted.body.chatState!;

		// The room loses the chat; the visitor's copy, from before Alice took it, rebuilds it as waiting.
		await loseChat(siteId, chat.chatId);
		const bobConsole = await AgentConsole.open(siteId, bob.token);
		const back = await rebuildWithState(
			siteId,
			chat.chatId,
			chat.token,
			chat.chatState
		);
		expect(back.status).toBe(200);
		// Bob takes it here, as a second deployment's dispatcher would.
		const bobTook = await accept(siteId, chat.chatId, bob.token);
		expect(bobTook.status).toBe(200);
		const bobSocket = await TestSocket.hello(
			siteId,
			chat.chatId,
			bob.token,
			[0, 1]
		);

		const aliceBack = await rebuildWithState(
			siteId,
			chat.chatId,
			alice.token,
			aliceState
		);
		expect(aliceBack.status).toBe(200);
		expect(await bobSocket.closed()).toBe(4403);
		expect((await poll(siteId, chat.chatId, bob.token)).status).toBe(403);
		expect(
			await bobConsole.next(
				(f) => f.type === "released" && f.chatId === chat.chatId
			)
		).toEqual({ type: "released", chatId: chat.chatId, reason: "transferred" });
		expect(await myChats(siteId, bob.token)).toEqual([]);
		// The visitor's next answer names Alice alone; Bob's replay of his own copy changes nothing.
		const replay = await rebuildWithState(
			siteId,
			chat.chatId,
			bob.token,
			bobTook.body.chatState!
		);
		expect(replay.status).toBe(403);
		expect((await poll(siteId, chat.chatId, alice.token)).status).toBe(200);
	});
});

describe("the dispatcher hears from the room who has a chat", () => {
	it("gives a console the chat its dispatcher forgot it had, from the room's alarm while its agent is not heard from", async () => {
		// Only a durable room outlives a dispatcher wiped on its own; in memory mode both go together.
		if (env.CHAT_STATE !== "durable") return;
		const siteId = await createSite(auto);
		const alice = await createAgent(siteId, "Alice", { maxChats: 2 });
		const first = await AgentConsole.open(siteId, alice.token);
		const chat = await startChat(siteId);
		await first.next(assigned(chat.chatId));
		// Closed, and its close handled (the dispatcher writes the agent then), before the wipe.
		first.close();
		await first.whenClosed();

		// The dispatcher loses everything (a failover deployment's empty one); the room keeps its chat.
		await runInDurableObject(dispatcherOf(siteId), (_instance, state) =>
			state.storage.deleteAll()
		);
		await abortAllDurableObjects();
		const fresh = await AgentConsole.open(siteId, alice.token);
		expect(await myChats(siteId, alice.token)).toEqual([]);

		await passRoomTime(roomOf(siteId, chat.chatId), Date.now() + 31_000);
		const frame = await fresh.next(assigned(chat.chatId));
		expect(frame).toMatchObject({ type: "assigned", chatId: chat.chatId });
		expect(await myChats(siteId, alice.token)).toEqual([chat.chatId]);
	});

	it("holds a restored waiting chat out of automatic routing until its room's alarm registers it again", async () => {
		// The dispatcher must not know the chat: in durable mode it kept its queue.
		if (env.CHAT_STATE !== "memory") return;
		const siteId = await createSite(auto);
		const bob = await createAgent(siteId, "Bob");
		const chat = await startChat(siteId);
		await abortAllDurableObjects();
		const bobConsole = await AgentConsole.open(siteId, bob.token);
		const back = await rebuildWithState(
			siteId,
			chat.chatId,
			chat.token,
			chat.chatState
		);
		expect(back.status).toBe(200);
		await queueHolds(siteId, bob.token, 1);
		expect(
			(await bobConsole.settled()).filter((f) => f.type === "assigned")
		).toEqual([]);

		await runDurableObjectAlarm(roomOf(siteId, chat.chatId));
		await bobConsole.next(assigned(chat.chatId));
	});

	it("does not route a restored waiting chat another agent's console claims, and counts it for that agent once its copy comes back", async () => {
		if (env.CHAT_STATE !== "memory") return;
		const siteId = await createSite(auto);
		const alice = await createAgent(siteId, "Alice");
		const bob = await createAgent(siteId, "Bob");
		const aliceFirst = await AgentConsole.open(siteId, alice.token);
		const chat = await startChat(siteId);
		const given = (await aliceFirst.next(assigned(chat.chatId))) as Extract<
			AgentServerFrame,
			{ type: "assigned" }
		>;

		const { aliceConsole, bobConsole } = await claimedAfterRestore(
			siteId,
			alice.token,
			bob.token,
			chat
		);
		expect(
			(await bobConsole.settled()).filter((f) => f.type === "assigned")
		).toEqual([]);

		const aliceBack = await rebuildWithState(
			siteId,
			chat.chatId,
			alice.token,
			given.chatState
		);
		expect(aliceBack.status).toBe(200);
		await queueHolds(siteId, bob.token, 0);
		expect(await myChats(siteId, alice.token)).toEqual([chat.chatId]);
		expect(await myChats(siteId, bob.token)).toEqual([]);
		expect(
			(await aliceConsole.settled()).filter((f) => f.type === "released")
		).toEqual([]);
	});

	it("routes a restored waiting chat all the same when the console that claims it cannot back the claim (after a few askings)", async () => {
		if (env.CHAT_STATE !== "memory") return;
		const siteId = await createSite(auto);
		const alice = await createAgent(siteId, "Alice");
		const bob = await createAgent(siteId, "Bob");
		const chat = await startChat(siteId);
		// Alice's console lists the chat (from the dispatcher's list, say) but holds no chatState to rebuild it with.
		const { aliceConsole, bobConsole } = await claimedAfterRestore(
			siteId,
			alice.token,
			bob.token,
			chat
		);
		// Each run of the dispatcher's alarm asks the room again; the room never learns the chat is Alice's.
		const seen: AgentServerFrame[] = [];
		for (let run = 0; run < 10 && !seen.some(assigned(chat.chatId)); run++) {
			await runDurableObjectAlarm(dispatcherOf(siteId));
			seen.push(...(await bobConsole.settled()));
		}
		expect(seen.some(assigned(chat.chatId))).toBe(true);
		aliceConsole.close();
	});
});

/** Until the site's queue holds `length` chats (a room registers its chat just after its answer). */
const queueHolds = (siteId: string, token: string, length: number) =>
	eventually(
		() => queue(siteId, token),
		(waiting) => waiting.length === length
	);

/**
 * Everything is lost (memory mode); Alice's console (away, so routing could give the chat to Bob only)
 * claims the chat, Bob's comes online, the visitor's copy restores the room as waiting, and the room's
 * alarm lifts the hold of a restored chat: the chat waits in the queue.
 */
async function claimedAfterRestore(
	siteId: string,
	aliceToken: string,
	bobToken: string,
	chat: StartChatResult
) {
	await abortAllDurableObjects();
	const aliceConsole = await AgentConsole.open(
		siteId,
		aliceToken,
		[chat.chatId],
		"away"
	);
	const bobConsole = await AgentConsole.open(siteId, bobToken);
	const back = await rebuildWithState(
		siteId,
		chat.chatId,
		chat.token,
		chat.chatState
	);
	expect(back.status).toBe(200);
	await runDurableObjectAlarm(roomOf(siteId, chat.chatId));
	await queueHolds(siteId, bobToken, 1);
	return { aliceConsole, bobConsole };
}
