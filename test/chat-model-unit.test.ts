import { describe, expect, it } from "vitest";
import {
	ChatLog,
	inDisplayOrder,
	planRebuild,
} from "../durable-objects/chat-model.ts";
import type { ChatMessage } from "../src/protocol/chat.ts";

const msg = (
	type: 1 | 2 | 4,
	dataOffset: number,
	id = `${type}-${dataOffset}`,
	sendTime = dataOffset * 10
): ChatMessage => ({
	id,
	type,
	dataOffset,
	content: id,
	sendTime,
	mac: "m",
});

describe("ChatLog", () => {
	it("orders for display by send time, visitor before agent on a tie, each stream in its own order", () => {
		const log = new ChatLog([
			msg(2, 1, "a1", 5),
			msg(1, 1, "v1", 5),
			msg(1, 2, "v2", 7),
			msg(2, 2, "a2", 6),
		]);
		expect(log.all().map((m) => m.id)).toEqual(["v1", "a1", "a2", "v2"]);
	});

	it("reports the highest contiguous offsets, not the highest held", () => {
		const log = new ChatLog([msg(1, 1), msg(1, 2), msg(1, 4), msg(2, 2)]);
		expect(log.offsets).toEqual({ visitorDataOffset: 2, agentDataOffset: 0 });
		log.place(msg(1, 3));
		log.place(msg(2, 1));
		expect(log.offsets).toEqual({ visitorDataOffset: 4, agentDataOffset: 2 });
	});

	it("refuses an append that is not the next offset, or an id it holds", () => {
		const log = new ChatLog([msg(1, 1)]);
		expect(() => log.append(msg(1, 3))).toThrow();
		expect(() => log.append({ ...msg(1, 2), id: "1-1" })).toThrow();
	});

	it("moves a message the server re-positioned, and hands back one it pushed out (split brain)", () => {
		const log = new ChatLog([msg(1, 1), msg(1, 2, "mine")]);
		const pushedOut = log.place(msg(1, 2, "theirs"));
		expect(pushedOut?.id).toBe("mine");
		expect(log.get("mine")).toBeUndefined();
		expect(log.place({ ...msg(1, 3, "mine") })).toBeUndefined();
		expect(log.all().map((m) => `${m.id}@${m.dataOffset}`)).toEqual([
			"1-1@1",
			"theirs@2",
			"mine@3",
		]);
		expect(log.offsets.visitorDataOffset).toBe(3);
	});

	it("returns only what is above the given offsets", () => {
		const log = new ChatLog([
			msg(1, 1),
			msg(1, 2),
			msg(2, 1),
			msg(2, 2),
			msg(2, 3),
		]);
		expect(
			log.above({ visitorDataOffset: 1, agentDataOffset: 2 }).map((m) => m.id)
		).toEqual(["1-2", "2-3"]);
	});
});

describe("planRebuild", () => {
	const server = () => new ChatLog([msg(1, 1), msg(1, 2), msg(2, 1)]);

	it("skips known ids and appends the next offsets as they are", () => {
		const plan = planRebuild(server(), [
			msg(1, 2),
			msg(1, 3),
			msg(2, 2),
			msg(1, 1),
		]);
		expect(plan.heldBack).toBe(0);
		expect(plan.appends).toEqual([
			{ message: msg(1, 3), resealed: false },
			{ message: msg(2, 2), resealed: false },
		]);
	});

	it("re-appends a different message at a held offset at the end of its stream, after those that fit as they are", () => {
		const plan = planRebuild(server(), [msg(1, 2, "other"), msg(1, 3, "next")]);
		expect(
			plan.appends.map((a) => [a.message.id, a.message.dataOffset, a.resealed])
		).toEqual([
			["next", 3, false],
			["other", 4, true],
		]);
	});

	it("holds back whatever lies beyond a gap", () => {
		const plan = planRebuild(server(), [msg(1, 5), msg(1, 3), msg(2, 3)]);
		expect(plan.appends.map((a) => a.message.id)).toEqual(["1-3"]);
		expect(plan.heldBack).toBe(2);
	});

	it("comes out the same whatever order the messages arrive in", () => {
		const incoming = [msg(1, 3), msg(1, 4), msg(2, 2), msg(2, 3)];
		const a = planRebuild(server(), incoming);
		const b = planRebuild(server(), [...incoming].reverse());
		expect(b).toEqual(a);
	});
});

describe("display order", () => {
	const displayed = (messages: ChatMessage[]) =>
		inDisplayOrder(messages).map((m) => m.id);

	it("is by send time while each stream's times grow, and keeps a stream's own order where a failover left them out of step", () => {
		const steady = [
			msg(1, 1, "v1", 10),
			msg(2, 1, "a1", 10),
			msg(1, 2, "v2", 30),
			msg(2, 2, "a2", 20),
		];
		expect(displayed(steady)).toEqual(["v1", "a1", "a2", "v2"]);
		// v2 was accepted on one deployment after v3 was on another: the visitor still reads v1, v2, v3.
		const skewed = [
			msg(1, 3, "v3", 25),
			msg(1, 1, "v1", 10),
			msg(1, 2, "v2", 40),
			msg(2, 1, "a1", 30),
		];
		expect(displayed(skewed)).toEqual(["v1", "a1", "v2", "v3"]);
		expect(new ChatLog(skewed).all().map((m) => m.id)).toEqual([
			"v1",
			"a1",
			"v2",
			"v3",
		]);
	});
});
