import { describe, expect, it } from "vitest";
import { ChatLog } from "../durable-objects/chat-model.ts";
import {
	absorb,
	chainStep,
	checkCall,
	isAhead,
	MessageType,
	messageTypeOf,
	planRebuild,
	planUpload,
	rereadPosition,
	streamOf,
} from "../src/protocol/offsets.ts";
import { message } from "./client-fake-room.ts";
import type { ChatMessage } from "../src/protocol/chat.ts";

/** Every rule of SPEC §3 on the protocol module alone: no room, no network. */

const at = (visitorDataOffset: number, agentDataOffset: number) => ({
	visitorDataOffset,
	agentDataOffset,
});

/** A message whose id and content name its type and offset. */
const msg = (
	type: 1 | 2 | 4,
	dataOffset: number,
	id = `${type}-${dataOffset}`
) => message(type, dataOffset, id, id);

/** A room holding visitor 1–2 and agent 1–3. */
const room = () =>
	new ChatLog([msg(1, 1), msg(1, 2), msg(2, 1), msg(4, 2), msg(2, 3)]);

async function chainOf(...ids: string[]): Promise<string> {
	let chain = "";
	for (const id of ids) chain = await chainStep(chain, id);
	return chain;
}

describe("message types and streams", () => {
	it("puts type 1 on the visitor stream and 2, 3, 4 on the agent stream", () => {
		expect(MessageType).toEqual({ Visitor: 1, Agent: 2, Bot: 3, System: 4 });
		expect(
			[1, 2, 3, 4].map((type) => streamOf({ type } as ChatMessage))
		).toEqual(["visitor", "agent", "agent", "agent"]);
		expect(messageTypeOf("visitor")).toBe(1);
		expect(messageTypeOf("agent")).toBe(2);
	});
});

describe("isAhead", () => {
	it("is true when either stream is further, false when neither is", () => {
		expect(isAhead(at(3, 0), at(2, 5))).toBe(true);
		expect(isAhead(at(0, 6), at(2, 5))).toBe(true);
		expect(isAhead(at(2, 5), at(2, 5))).toBe(false);
		expect(isAhead(at(1, 4), at(2, 5))).toBe(false);
	});
});

describe("checkCall (SPEC §3 steps 1–2 and the chains)", () => {
	it("step 1: a room without its chat answers code 1 with −1/−1", async () => {
		expect(await checkCall(undefined, at(4, 2))).toEqual({
			code: 1,
			visitorDataOffset: -1,
			agentDataOffset: -1,
			messages: [],
		});
	});

	it("lets a caller at the room's offsets through", async () => {
		expect(await checkCall(room(), at(2, 3))).toBeUndefined();
	});

	it("lets a caller behind the room through: it gets the news with its answer", async () => {
		expect(await checkCall(room(), at(0, 1))).toBeUndefined();
	});

	it("step 2: a caller ahead on either stream gets code 1 with the room's offsets", async () => {
		const answer = { code: 1, ...at(2, 3), messages: [] };
		expect(await checkCall(room(), at(3, 0))).toEqual(answer);
		expect(await checkCall(room(), at(0, 4))).toEqual(answer);
	});

	it("lets through a caller whose chains agree with the room's", async () => {
		const caller = {
			...at(2, 2),
			visitorChain: await chainOf("1-1", "1-2"),
			agentChain: await chainOf("2-1", "4-2"),
		};
		expect(await checkCall(room(), caller)).toBeUndefined();
	});

	it("names the streams whose chain differs below the caller's offsets", async () => {
		const caller = {
			...at(2, 1),
			visitorChain: await chainOf("1-1", "other"),
			agentChain: await chainOf("2-1"),
		};
		expect(await checkCall(room(), caller)).toEqual({
			code: 1,
			...at(2, 3),
			messages: [],
			diverged: ["visitor"],
		});
	});

	it("checks no chain at offset 0, nor above the room's offsets", async () => {
		const caller = { ...at(0, 4), visitorChain: "x".repeat(22) };
		expect(await checkCall(room(), caller)).toEqual({
			code: 1,
			...at(2, 3),
			messages: [],
		});
	});
});

describe("planUpload", () => {
	const copy = new ChatLog([
		msg(1, 1),
		msg(1, 2),
		msg(1, 3),
		msg(2, 1),
		msg(2, 2),
	]);

	it("uploads what is above the room's offsets, each stream in offset order", () => {
		expect(planUpload(copy, at(1, 1)).map((m) => m.id)).toEqual([
			"1-2",
			"1-3",
			"2-2",
		]);
	});

	it("takes −1 (a room with nothing) as 0: everything is uploaded", () => {
		expect(planUpload(copy, at(-1, -1))).toHaveLength(5);
	});

	it("uploads a diverged stream whole, and the displaced messages too", () => {
		const displaced = [msg(1, 2, "pushed-out")];
		expect(
			planUpload(copy, { ...at(3, 2), diverged: ["visitor"] }, displaced).map(
				(m) => m.id
			)
		).toEqual(["1-1", "1-2", "pushed-out", "1-3"]);
	});

	it("rereads a diverged stream from 0 without its chain, the other from where the copy stands", () => {
		const position = { ...at(3, 2), visitorChain: "v", agentChain: "a" };
		expect(rereadPosition(position, ["visitor"])).toEqual({
			...at(0, 2),
			agentChain: "a",
		});
	});
});

describe("planRebuild", () => {
	it("skips known ids, appends the next offsets, re-appends conflicts after them and holds back beyond a gap", () => {
		const log = new ChatLog([msg(1, 1), msg(2, 1)]);
		const plan = planRebuild(log, [
			msg(1, 1),
			msg(1, 2),
			msg(1, 1, "split"),
			msg(2, 3),
		]);
		expect(
			plan.appends.map((a) => [a.message.id, a.message.dataOffset, a.resealed])
		).toEqual([
			["1-2", 2, false],
			["split", 3, true],
		]);
		expect(plan.heldBack).toBe(1);
	});
});

describe("absorb", () => {
	it("returns the fresh messages and takes what the room holds out of the outbox", () => {
		const copy = new ChatLog([msg(1, 1)]);
		const merged = absorb(copy, [msg(1, 1), msg(1, 2, "mine"), msg(2, 1)], {
			displaced: [],
			outbox: [{ id: "mine" }, { id: "later" }],
		});
		expect(merged.fresh.map((m) => m.id)).toEqual(["mine", "2-1"]);
		expect(merged.outbox).toEqual([{ id: "later" }]);
		expect(copy.offsets).toEqual(at(2, 1));
	});

	it("keeps a message the room's placement pushed out, once, until the room holds it", () => {
		const copy = new ChatLog([msg(1, 1, "ours")]);
		const first = absorb(copy, [msg(1, 1, "theirs")], {
			displaced: [msg(1, 1, "ours")],
			outbox: [],
		});
		expect(first.displaced.map((m) => m.id)).toEqual(["ours"]);
		const second = absorb(copy, [msg(1, 2, "ours")], {
			displaced: first.displaced,
			outbox: [],
		});
		expect(second.displaced).toEqual([]);
		expect(copy.all().map((m) => m.id)).toEqual(["theirs", "ours"]);
	});
});
