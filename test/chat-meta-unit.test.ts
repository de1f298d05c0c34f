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
});
