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
});
