/**
 * SPEC §11's chaos run, short, inside `npm test`: 20 chats, 8 agent consoles in auto routing and 30 s
 * of faults per storage mode (room and dispatcher evictions, kill -9 of a deployment, primary/secondary
 * switches, transfers) on two real local deployments; with SPEC §17's routing checks.
 * `npm run chaos` (bench/chaos.ts) is the full run and the only one that writes bench/CHAOS.md.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { checkChat, MUST_BE_ZERO } from "../../bench/chaos-check.ts";
import {
	checkOwnerHistory,
	checkRouting,
	OWNER_MUST_BE_ZERO,
} from "../../bench/chaos-owners.ts";
import { runChaos } from "../../bench/chaos-run.ts";
import type { ChatOutcome } from "../../bench/chaos-check.ts";
import type {
	ChatTruth,
	RoomState,
	RoutingSnapshot,
} from "../../bench/chaos-owners.ts";
import type { ChatMessage } from "../../src/protocol/chat.ts";

const workRoot = mkdtempSync(join(tmpdir(), "elc-chaos-test-"));
afterAll(() => rmSync(workRoot, { recursive: true, force: true }));

describe("the chaos run's checks", () => {
	const message = (
		id: string,
		type: 1 | 2 | 4,
		dataOffset: number,
		sendTime: number
	): ChatMessage => ({ id, type, dataOffset, sendTime, content: id, mac: "m" });
	const v1 = message("v1", 1, 1, 10);
	const a1 = message("a1", 2, 1, 20);
	const v2 = message("v2", 1, 2, 30);
	const whole = [v1, a1, v2];
	const outcome = (changes: Partial<ChatOutcome> = {}): ChatOutcome => ({
		chatId: "c",
		sent: { visitor: ["v1", "v2"], agent: ["a1"] },
		accepted: new Set(["v1", "v2", "a1"]),
		copies: { visitor: whole, agent: whole, server: whole },
		transcripts: [{ deployment: "A", messageIds: ["v1", "a1", "v2"] }],
		mustBePersistedOn: ["A"],
		...changes,
	});
	const counts = (o: ChatOutcome) =>
		Object.fromEntries(MUST_BE_ZERO.map((k) => [k, checkChat(o)[k]]));

	it("find nothing wrong in a whole chat", () => {
		expect(checkChat(outcome()).problems).toEqual([]);
	});

	it("keep each sender's order, not the order of two agents who wrote apart (a split brain's merge re-appends one's messages)", () => {
		const by = (m: ChatMessage, senderId: string) => ({ ...m, senderId });
		const first = by(message("a1", 2, 2, 20), "agent-1");
		const second = by(message("a2", 2, 1, 25), "agent-2");
		const copy = [v1, second, first, v2];
		const sent = { visitor: ["v1", "v2"], agent: ["a1", "a2"] };
		const accepted = new Set(["v1", "v2", "a1", "a2"]);
		const apart = outcome({
			sent,
			accepted,
			copies: { visitor: copy, agent: copy, server: copy },
		});
		expect(counts(apart)).toMatchObject({ outOfOrder: 0 });
		const oneSender = [v1, by(second, "agent-1"), by(first, "agent-1"), v2];
		expect(
			counts(
				outcome({
					sent,
					accepted,
					copies: { visitor: oneSender, agent: oneSender, server: oneSender },
				})
			)
		).toMatchObject({ outOfOrder: 1 });
	});

	it("find what went wrong", () => {
		expect(
			counts(
				outcome({ copies: { visitor: whole, agent: [v1, a1], server: whole } })
			)
		).toMatchObject({ lost: 1, copiesDiffer: 1 });
		expect(
			counts(
				outcome({ copies: { visitor: whole, agent: whole, server: undefined } })
			)
		).toMatchObject({ lost: 3 });
		expect(
			counts(
				outcome({
					copies: { visitor: [v1, a1, v2, v2], agent: whole, server: whole },
				})
			)
		).toMatchObject({ doubled: 1, offsetGaps: 1 });
		const swapped = [message("v2", 1, 1, 10), a1, message("v1", 1, 2, 30)];
		expect(
			counts(
				outcome({
					copies: { visitor: swapped, agent: swapped, server: swapped },
				})
			)
		).toMatchObject({ outOfOrder: 1, copiesDiffer: 0 });
		expect(
			counts(
				outcome({
					copies: {
						visitor: whole,
						agent: whole,
						server: [v1, a1, { ...v2, sendTime: 15 }],
					},
				})
			)
		).toMatchObject({ copiesDiffer: 1, lost: 0 });
		expect(
			counts(
				outcome({
					copies: {
						visitor: [v1, a1, message("v2", 1, 3, 30)],
						agent: whole,
						server: whole,
					},
				})
			)
		).toMatchObject({ offsetGaps: 1 });
		expect(
			counts(
				outcome({
					transcripts: [{ deployment: "A", messageIds: ["v1", "a1"] }],
				})
			)
		).toMatchObject({ transcriptsShort: 1 });
		expect(counts(outcome({ transcripts: [] }))).toMatchObject({
			notPersisted: 1,
		});
	});
});

describe("the chaos run's routing checks", () => {
	const state = (
		v: number,
		status: RoomState["status"],
		agentIds: string[],
		pastAgentIds: string[] = []
	): RoomState => ({
		v,
		status,
		agentIds,
		pastAgentIds,
		seenBy: "visitor",
		via: "A",
		at: v,
	});
	const history = (states: RoomState[]) =>
		Object.fromEntries(
			OWNER_MUST_BE_ZERO.map((k) => [k, checkOwnerHistory("c", states)[k]])
		);

	it("find nothing wrong in a chat routed, then transferred twice", () => {
		expect(
			checkOwnerHistory("c", [
				state(1, "waiting", []),
				state(2, "chatting", ["a1"]),
				state(3, "chatting", ["a2"], ["a1"]),
				state(4, "chatting", ["a1"], ["a1", "a2"]),
				state(5, "ended", ["a1"], ["a1", "a2"]),
			]).problems
		).toEqual([]);
	});

	it("find a chat with two owners, in one state, across a split brain, or by a drop without a transfer", () => {
		expect(history([state(3, "chatting", ["a1", "a2"])])).toMatchObject({
			twoOwners: 1,
		});
		expect(
			history([state(2, "chatting", ["a1"]), state(2, "chatting", ["a2"])])
		).toMatchObject({ twoOwners: 1 });
		// a1 had it; the room lost it, came back waiting, and routed it again: a1's console still held it.
		expect(
			history([state(2, "chatting", ["a1"]), state(3, "chatting", ["a2"])])
		).toMatchObject({ twoOwners: 1 });
		expect(history([state(2, "waiting", ["a1"])])).toMatchObject({
			waitingOwned: 1,
			twoOwners: 0,
		});
	});

	const snapshot = (
		changes: Partial<RoutingSnapshot> = {}
	): RoutingSnapshot => ({
		phase: "test",
		truth: new Map<string, ChatTruth | undefined>([
			["c1", { status: "chatting", agentIds: ["a1"] }],
			["c2", { status: "ended", agentIds: ["a2"] }],
		]),
		strangers: new Map(),
		agents: [
			{
				id: "a1",
				maxChats: 3,
				free: 2,
				console: ["c1"],
				dispatcherList: ["c1"],
			},
			{ id: "a2", maxChats: 3, free: 3, console: [], dispatcherList: [] },
		],
		superviseList: [{ chatId: "c1", agentIds: ["a1"] }],
		queue: [],
		neverAssigned: [],
		...changes,
	});
	const routing = (s: RoutingSnapshot) =>
		Object.fromEntries(OWNER_MUST_BE_ZERO.map((k) => [k, checkRouting(s)[k]]));

	it("find nothing wrong when every list and capacity agrees with the rooms", () => {
		expect(checkRouting(snapshot()).problems).toEqual([]);
	});

	it("find ghost chats, a missing one, a wrong capacity and a chat not routed", () => {
		const ghost = snapshot();
		ghost.agents[1] = {
			id: "a2",
			maxChats: 3,
			free: 2,
			console: ["c2"],
			dispatcherList: ["c2"],
		};
		// The ended chat in a2's console and the dispatcher's list is one stale (agent, chat); its capacity counts it.
		expect(routing(ghost)).toMatchObject({ staleListed: 1, wrongCapacity: 1 });
		expect(
			routing(
				snapshot({
					superviseList: [{ chatId: "c1", agentIds: ["a1", "a2"] }],
				})
			)
		).toMatchObject({ staleListed: 1 });
		const missing = snapshot();
		missing.agents[0] = { ...missing.agents[0]!, console: [] };
		expect(routing(missing)).toMatchObject({ missingFromConsole: 1 });
		const waiting = snapshot({ queue: ["c3"], neverAssigned: ["c3"] });
		(waiting.truth as Map<string, ChatTruth>).set("c3", {
			status: "waiting",
			agentIds: [],
		});
		expect(routing(waiting)).toMatchObject({ notRouted: 1 });
	});

	it("take a chat no client of the run knows (its start's answer was lost) by its room's word, not as stale", () => {
		const given = snapshot({
			strangers: new Map([["s1", { status: "chatting", agentIds: ["a2"] }]]),
		});
		given.agents[1] = {
			id: "a2",
			maxChats: 3,
			free: 2,
			console: ["s1"],
			dispatcherList: ["s1"],
		};
		expect(checkRouting(given).problems).toEqual([]);
		// Its room ended it, or no room answers for it: listed, it is stale like any other.
		const ended = snapshot({
			strangers: new Map([["s1", { status: "ended", agentIds: ["a2"] }]]),
		});
		ended.agents[1] = { ...given.agents[1]!, free: 3 };
		expect(routing(ended)).toMatchObject({ staleListed: 1, wrongCapacity: 0 });
		const silent = snapshot({ strangers: new Map([["s1", undefined]]) });
		silent.agents[1] = { ...given.agents[1]!, free: 3 };
		expect(routing(silent)).toMatchObject({ staleListed: 1 });
	});
});

describe.each(["durable", "memory"] as const)(
	"a short chaos run in %s mode",
	(chatState) => {
		it(
			"loses, doubles and reorders nothing, and routes every chat to one agent at a time, while rooms and dispatchers are evicted, deployments crash, clients switch and agents transfer",
			{ timeout: 600_000 },
			async () => {
				// The run's progress is shown only when something is wrong, with the traces of the chats concerned.
				const progress: string[] = [];
				const figures = await runChaos({
					chatState,
					seconds: 30,
					chats: 20,
					agents: 8,
					maxChats: 6,
					ports: [19777, 19778],
					workDir: join(workRoot, chatState),
					settleMs: 60_000,
					persistMs: 90_000,
					log: (line) => progress.push(line),
				});
				expect(
					figures.problems,
					`${progress.join("\n")}\ntraces: ${figures.tracesFile}`
				).toEqual([]);
				const mustBeZero = [...MUST_BE_ZERO, ...OWNER_MUST_BE_ZERO];
				expect(
					Object.fromEntries(mustBeZero.map((k) => [k, figures[k]]))
				).toEqual(Object.fromEntries(mustBeZero.map((k) => [k, 0])));
				expect(figures.unsettled).toBe(0);
				expect(figures.messagesAccepted).toBeGreaterThan(100);
				expect(figures.routed).toBe(figures.chats);
				expect(figures.statesSeen).toBeGreaterThan(figures.chats);
				// The faults did happen, the clients did rebuild, and agents did hand chats over.
				expect(figures.transfers.done).toBeGreaterThan(0);
				expect(figures.dispatcherEvictions).toBeGreaterThan(0);
				expect(figures.evictions).toBeGreaterThan(0);
				expect(figures.crashes).toBeGreaterThanOrEqual(1);
				expect(figures.switches).toBeGreaterThan(0);
				expect(figures.rebuilds).toBeGreaterThan(0);
			}
		);
	}
);
