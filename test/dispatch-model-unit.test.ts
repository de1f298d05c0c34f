import { describe, expect, it } from "vitest";
import {
	chooseAgent,
	claimOf,
	claimsToCheck,
	loadChanges,
	MAX_CLAIMS,
	planRouting,
	PRESENCE_TIMEOUT_MS,
	presenceDeadline,
	queuePositions,
	routable,
	statusOf,
} from "../durable-objects/dispatch-model.ts";
import type {
	AgentPresence,
	WaitingChat,
} from "../durable-objects/dispatch-model.ts";

const NOW = 1_000_000;

const agent = (
	id: string,
	over: Partial<AgentPresence> = {}
): AgentPresence => ({
	id,
	name: id,
	role: "agent",
	maxChats: 3,
	declared: "online",
	lastSeen: NOW,
	sockets: 0,
	chats: [],
	lastAssignedAt: 0,
	...over,
});

const chat = (
	chatId: string,
	requestTime: number,
	over: Partial<WaitingChat> = {}
): WaitingChat => ({ chatId, visitorId: `v-${chatId}`, requestTime, ...over });

describe("presence", () => {
	it("is online while a socket is open or for 60 s after the last heartbeat, and offline once said", () => {
		expect(statusOf(agent("a"), NOW + PRESENCE_TIMEOUT_MS - 1)).toBe("online");
		expect(statusOf(agent("a"), NOW + PRESENCE_TIMEOUT_MS)).toBe("offline");
		expect(
			statusOf(agent("a", { sockets: 1 }), NOW + 10 * PRESENCE_TIMEOUT_MS)
		).toBe("online");
		expect(statusOf(agent("a", { declared: "away" }), NOW)).toBe("away");
		expect(statusOf(agent("a", { declared: "offline", sockets: 2 }), NOW)).toBe(
			"offline"
		);
		expect(presenceDeadline(agent("a"))).toBe(NOW + PRESENCE_TIMEOUT_MS);
		expect(presenceDeadline(agent("a", { sockets: 1 }))).toBeUndefined();
	});
});

describe("routing", () => {
	it("picks the online agent with the most free capacity, not away, offline or full ones", () => {
		const agents = [
			agent("busy", { chats: ["x", "y"] }),
			agent("free", { chats: ["z"] }),
			agent("away", { declared: "away" }),
			agent("gone", { lastSeen: NOW - PRESENCE_TIMEOUT_MS }),
			agent("full", { maxChats: 1, chats: ["w"] }),
		];
		expect(chooseAgent(agents, chat("c", 1), false, NOW)?.id).toBe("free");
		expect(
			chooseAgent([agents[4]!, agents[2]!], chat("c", 1), false, NOW)
		).toBeUndefined();
	});

	it("prefers the visitor's last agent when sticky and it is online with room, else falls back", () => {
		const agents = [agent("last", { chats: ["x", "y"] }), agent("other")];
		const returning = chat("c", 1, { lastAgentId: "last" });
		expect(chooseAgent(agents, returning, true, NOW)?.id).toBe("last");
		expect(chooseAgent(agents, returning, false, NOW)?.id).toBe("other");
		expect(
			chooseAgent(
				[agent("last", { chats: ["x", "y", "z"] }), agent("other")],
				returning,
				true,
				NOW
			)?.id
		).toBe("other");
		expect(
			chooseAgent(
				[agent("last", { declared: "offline" }), agent("other")],
				returning,
				true,
				NOW
			)?.id
		).toBe("other");
	});

	it("gives a chat that answers an invitation to the inviting agent while it is online with room, sticky or not, before the last agent", () => {
		const agents = [
			agent("inviter", { chats: ["x", "y"] }),
			agent("last", { chats: ["z"] }),
			agent("other"),
		];
		const answer = chat("c", 1, { invitedBy: "inviter", lastAgentId: "last" });
		expect(chooseAgent(agents, answer, true, NOW)?.id).toBe("inviter");
		expect(chooseAgent(agents, answer, false, NOW)?.id).toBe("inviter");
		const full = [
			agent("inviter", { chats: ["x", "y", "w"] }),
			...agents.slice(1),
		];
		expect(chooseAgent(full, answer, true, NOW)?.id).toBe("last");
		const away = [agent("inviter", { declared: "away" }), ...agents.slice(1)];
		expect(chooseAgent(away, answer, false, NOW)?.id).toBe("other");
	});

	it("among equals gives the chat to the agent idle longest, then by id", () => {
		expect(
			chooseAgent(
				[agent("b", { lastAssignedAt: 5 }), agent("a", { lastAssignedAt: 9 })],
				chat("c", 1),
				false,
				NOW
			)?.id
		).toBe("b");
		expect(
			chooseAgent([agent("b"), agent("a")], chat("c", 1), false, NOW)?.id
		).toBe("a");
	});

	it("plans the oldest chats first and spreads them, each decision counting the ones before", () => {
		const plan = planRouting(
			[agent("a", { maxChats: 2 }), agent("b", { maxChats: 1 })],
			[chat("late", 30), chat("early", 10), chat("mid", 20), chat("last", 40)],
			false,
			NOW
		);
		expect(plan.map((p) => [p.chat.chatId, p.agent.id])).toEqual([
			["early", "a"],
			["mid", "b"],
			["late", "a"],
		]);
	});
});

describe("the queue", () => {
	it("numbers chats oldest first from 1, each department apart, ties broken by chat id", () => {
		const positions = queuePositions([
			chat("b", 10),
			chat("a", 10),
			chat("c", 5),
			chat("s1", 7, { department: "sales" }),
			chat("s2", 3, { department: "sales" }),
		]);
		expect(Object.fromEntries(positions)).toEqual({
			c: 1,
			a: 2,
			b: 3,
			s2: 1,
			s1: 2,
		});
	});
});

describe("a console's claims (SPEC §7)", () => {
	const chatting = { status: "chatting", agentIds: ["a1"] };

	it("are live only while the chat goes on with the agent among its agents", () => {
		expect(claimOf(chatting, "a1", false)).toBe("live");
		expect(claimOf(chatting, "a1", true)).toBe("live");
	});

	it("are stale for an ended chat, one the agent was transferred out of, or one never its own", () => {
		expect(claimOf({ ...chatting, status: "ended" }, "a1", false)).toBe(
			"stale"
		);
		expect(
			claimOf(
				{ status: "chatting", agentIds: ["a2"], pastAgentIds: ["a1"] },
				"a1",
				true
			)
		).toBe("stale");
		expect(claimOf(chatting, "stranger", false)).toBe("stale");
		expect(claimOf({ status: "waiting", agentIds: [] }, "a1", false)).toBe(
			"stale"
		);
	});

	it("are unknown, never stale, where the room has no chat or got it back by a rebuild that may not list the agent yet", () => {
		expect(claimOf(undefined, "a1", false)).toBe("unknown");
		expect(claimOf(chatting, "a2", true)).toBe("unknown");
		// An ended chat is stale even in a restored room: no rebuild reopens it (SPEC §6).
		expect(claimOf({ ...chatting, status: "ended" }, "a2", true)).toBe("stale");
	});

	it("are asked about once each, at most a few beyond the agent's maxChats per hello", () => {
		const ids = Array.from({ length: 200 }, (_, i) => `c${i}`);
		expect(claimsToCheck(["x", "y", "x"], 5)).toEqual(["x", "y"]);
		expect(claimsToCheck(ids, 3)).toEqual(ids.slice(0, 8));
		expect(claimsToCheck(ids, 100)).toHaveLength(MAX_CLAIMS);
	});
});

describe("the room's word on a chat's agents", () => {
	const holding = (id: string) => agent(id, { chats: ["c"] });

	it("counts the chat for the agents the room lists, and takes it from those it shows removed", () => {
		const room = {
			status: "chatting" as const,
			agentIds: ["a1"],
			pastAgentIds: ["a2"],
		};
		expect(loadChanges([agent("a1"), holding("a2")], "c", room)).toEqual({
			gains: ["a1"],
			loses: ["a2"],
		});
	});

	it("leaves an agent the room merely does not list (a restored room may not know it yet)", () => {
		const room = {
			status: "chatting" as const,
			agentIds: ["a1"],
			pastAgentIds: [],
		};
		expect(loadChanges([holding("a1"), holding("a3")], "c", room)).toEqual({
			gains: [],
			loses: [],
		});
	});

	it("takes an ended chat from everyone, and gives it to no one", () => {
		const room = {
			status: "ended" as const,
			agentIds: ["a1"],
			pastAgentIds: [],
		};
		expect(loadChanges([holding("a1"), agent("a2")], "c", room)).toEqual({
			gains: [],
			loses: ["a1"],
		});
	});

	it("keeps out of automatic routing a chat held since its room was restored, and one a console claims", () => {
		const waiting = [
			chat("free", 1),
			chat("held", 2, { restored: true }),
			chat("claimed", 3),
		];
		expect(
			routable(waiting, new Set(["claimed"])).map((c) => c.chatId)
		).toEqual(["free"]);
	});
});
