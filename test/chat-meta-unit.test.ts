import { describe, expect, it } from "vitest";
import { mergeChatMeta } from "../durable-objects/chat-meta.ts";
import type { ChatMeta } from "../src/protocol/chat-state.ts";

const base: ChatMeta = {
	v: 2,
	siteId: "s",
	chatId: "c",
	visitorId: "v",
	visitor: { name: "Vera" },
	status: "chatting",
	agentIds: ["a1"],
	agentNames: { a1: "Alice" },
	beginTime: 1000,
	limits: { maxMessageLength: 4000, messagesPerMinutePerVisitor: 60 },
};

describe("mergeChatMeta", () => {
	it("takes the offered copy when the room has none, and keeps the room's when nothing is new", () => {
		expect(mergeChatMeta(undefined, base)).toBe(base);
		const current = { ...base, v: 3 };
		expect(mergeChatMeta(current, base)).toBe(current);
	});

	it("takes a newer copy as it is, so its sealed blob stays valid", () => {
		const offered = {
			...base,
			v: 5,
			agentIds: ["a1", "a2"],
			agentNames: { a1: "Alice", a2: "Bob" },
		};
		expect(mergeChatMeta(base, offered)).toBe(offered);
	});

	it("keeps an ended chat ended and every agent, when both deployments changed it at the same version", () => {
		const endedOnSecondary: ChatMeta = {
			...base,
			v: 3,
			status: "ended",
			endTime: 5000,
		};
		const joinedOnPrimary: ChatMeta = {
			...base,
			v: 3,
			agentIds: ["a1", "a2"],
			agentNames: { a1: "Alice", a2: "Bob" },
		};
		const merged = mergeChatMeta(joinedOnPrimary, endedOnSecondary);
		expect(merged).toMatchObject({
			v: 4,
			status: "ended",
			endTime: 5000,
			agentIds: ["a1", "a2"],
			agentNames: { a1: "Alice", a2: "Bob" },
		});
		expect(mergeChatMeta(endedOnSecondary, joinedOnPrimary)).toMatchObject({
			v: 4,
			status: "ended",
			agentIds: ["a1", "a2"],
		});
	});

	describe("membership only shrinks by the room's decision (SPEC §6)", () => {
		const accepted: ChatMeta = { ...base, v: 3 };
		const transferred: ChatMeta = {
			...base,
			v: 4,
			agentIds: ["a2"],
			pastAgentIds: ["a1"],
			agentNames: { a1: "Alice", a2: "Bob" },
		};

		it("never re-admits an agent a newer copy shows transferred away, whoever replays the older copy", () => {
			expect(mergeChatMeta(transferred, accepted)).toBe(transferred);
		});

		it("lets the newer copy remove an agent from a room restored from an older one", () => {
			expect(mergeChatMeta(accepted, transferred)).toBe(transferred);
		});

		it("keeps an agent transferred back in by a newer copy", () => {
			const back: ChatMeta = {
				...transferred,
				v: 5,
				agentIds: ["a1"],
				pastAgentIds: ["a1", "a2"],
			};
			expect(mergeChatMeta(back, accepted).agentIds).toEqual(["a1"]);
			expect(mergeChatMeta(transferred, back).agentIds).toEqual(["a1"]);
		});

		it("keeps an agent who joined on the other side, and drops one either side removed at the same version", () => {
			const joinedElsewhere: ChatMeta = {
				...base,
				v: 4,
				agentIds: ["a1", "a3"],
				agentNames: { a1: "Alice", a3: "Cid" },
			};
			const merged = mergeChatMeta(transferred, joinedElsewhere);
			expect(merged.agentIds).toEqual(["a2", "a3"]);
			expect(merged.pastAgentIds).toEqual(["a1"]);
			expect(merged.v).toBe(5);
			expect(
				mergeChatMeta(joinedElsewhere, transferred).agentIds.slice().sort()
			).toEqual(["a2", "a3"]);
		});
	});

	describe("a chat routed to two agents on two deployments (a split brain)", () => {
		const waiting: ChatMeta = {
			...base,
			v: 1,
			status: "waiting",
			agentIds: [],
			agentNames: {},
		};
		const onPrimary: ChatMeta = {
			...waiting,
			v: 2,
			status: "chatting",
			agentIds: ["a1"],
			agentNames: { a1: "Alice" },
			startTime: 2000,
			firstAgentId: "a1",
		};
		const onSecondary: ChatMeta = {
			...waiting,
			v: 2,
			status: "chatting",
			agentIds: ["a2"],
			agentNames: { a2: "Bob" },
			startTime: 2500,
			firstAgentId: "a2",
		};

		it("keeps the agent assigned first, whichever room merges, and the other leaves as if transferred away", () => {
			for (const merged of [
				mergeChatMeta(onPrimary, onSecondary),
				mergeChatMeta(onSecondary, onPrimary),
			]) {
				expect(merged).toMatchObject({
					v: 3,
					agentIds: ["a1"],
					pastAgentIds: ["a2"],
					startTime: 2000,
					firstAgentId: "a1",
				});
			}
		});

		it("at the same start time, keeps the lower agent id", () => {
			const sameTime = { ...onSecondary, startTime: 2000 };
			expect(mergeChatMeta(sameTime, onPrimary).agentIds).toEqual(["a1"]);
			expect(mergeChatMeta(onPrimary, sameTime).agentIds).toEqual(["a1"]);
		});

		it("keeps out the other line's later agents, however far its versions ran ahead", () => {
			const passedOn: ChatMeta = {
				...onSecondary,
				v: 9,
				agentIds: ["a3"],
				pastAgentIds: ["a2"],
				agentNames: { a2: "Bob", a3: "Cid" },
			};
			const merged = mergeChatMeta(onPrimary, passedOn);
			expect(merged.agentIds).toEqual(["a1"]);
			expect(merged.pastAgentIds?.slice().sort()).toEqual(["a2", "a3"]);
			expect(merged.v).toBe(10);
			// The losing room, merging the result later at a lower version, comes to the same owner.
			const lateLoser = { ...passedOn, v: 12 };
			expect(mergeChatMeta(lateLoser, merged).agentIds).toEqual(["a1"]);
			expect(mergeChatMeta(merged, lateLoser).agentIds).toEqual(["a1"]);
		});

		it("keeps an agent of the first line who also passed through the other, and lists it only once", () => {
			const throughA1: ChatMeta = {
				...onSecondary,
				v: 6,
				agentIds: ["a3"],
				pastAgentIds: ["a2", "a1"],
			};
			const merged = mergeChatMeta(throughA1, onPrimary);
			expect(merged.agentIds).toEqual(["a1"]);
			expect(merged.pastAgentIds?.slice().sort()).toEqual(["a2", "a3"]);
		});

		it("merges as before when both copies started with the same agent", () => {
			const joined: ChatMeta = {
				...onPrimary,
				v: 3,
				agentIds: ["a1", "a4"],
				agentNames: { a1: "Alice", a4: "Dee" },
			};
			const later = { ...onPrimary, startTime: 2400, v: 3 };
			const merged = mergeChatMeta(joined, later);
			expect(merged.agentIds).toEqual(["a1", "a4"]);
			expect(merged.startTime).toBe(2000);
		});
	});
});
