import { describe, expect, it } from "vitest";
import { LiveChatClient, MemoryStore } from "../client/index.ts";
import { ChatLog } from "../durable-objects/chat-model.ts";
import {
	BASE,
	CHAT,
	FakeRoom,
	fakeToken,
	message,
	messageId,
	SITE,
} from "./client-fake-room.ts";
import type { ChatMessage } from "../src/protocol/chat.ts";

/** A client whose store already holds this copy of the chat, as after a page reload; `room` answers its calls. */
async function clientWith(
	room: { fetch: typeof fetch },
	messages: ChatMessage[],
	role: "visitor" | "agent" = "visitor",
	failover?: { baseUrls: string[]; backoffMs: number; attempts: number }
) {
	const store = new MemoryStore();
	const token = fakeToken(role);
	await store.save(`${SITE}/${CHAT}`, {
		siteId: SITE,
		chatId: CHAT,
		token,
		chatState: "state-0",
		messages,
		outbox: [],
		displaced: [],
	});
	const client = await LiveChatClient.resume({
		baseUrls: [BASE],
		siteId: SITE,
		chatId: CHAT,
		store,
		fetch: room.fetch,
		openSocket: undefined,
		...failover,
	});
	return client!;
}

const visitorStream = (n: number) =>
	Array.from({ length: n }, (_, i) => message(1, i + 1, `v${i + 1}`));
const brief = (room: FakeRoom) =>
	room.calls.map((c) => [c.method, c.path, c.code, c.offsets]);

describe("LiveChatClient chains (SPEC §3)", () => {
	it("carries its chain at its offsets on every call, and none at offset 0", async () => {
		const room = new FakeRoom();
		const client = await clientWith(room, []);
		await client.poll();
		expect(room.calls[0]!.chains).toEqual([undefined, undefined]);

		room.log = new ChatLog([...visitorStream(3), message(2, 1, "a1")]);
		await client.poll();
		await client.send("hello");
		await client.end();
		const [, afterPoll, send, end] = room.calls;
		const chainsAt = async (v: number, a: number) => [
			await room.log.chainAt("visitor", v),
			await room.log.chainAt("agent", a),
		];
		expect(afterPoll!.chains).toEqual([undefined, undefined]);
		expect(send!.offsets).toEqual([3, 1]);
		expect(send!.chains).toEqual(await chainsAt(3, 1));
		expect(end!.offsets).toEqual([4, 1]);
		expect(end!.chains).toEqual(await chainsAt(4, 1));
	});

	it("repairs a history that diverged below equal offsets: whole stream up, read from 0, the room's numbering, then the send once", async () => {
		// Both copies hold message 7 with the same id, over a different message 6 (split brain).
		const common = visitorStream(5);
		const m6a = message(1, 6, "m6a");
		const m6b = message(1, 6, "m6b");
		const id7 = messageId();
		const room = new FakeRoom([
			...common,
			m6b,
			message(1, 7, "m7", id7, 2_000),
		]);
		const client = await clientWith(room, [
			...common,
			m6a,
			message(1, 7, "m7", id7, 2_001),
		]);

		const sent = await client.send("after the split");

		expect(brief(room)).toEqual([
			["POST", "/messages", 1, [7, 0]],
			["POST", "/rebuild", 1, [7, 0]], // still diverged until the read: not acted on
			["GET", "/messages", 0, [0, 0]],
			["POST", "/messages", 0, [8, 0]],
		]);
		expect(room.calls[0]!.diverged).toEqual(["visitor"]);
		expect(room.calls[1]!.uploaded).toEqual([
			...common.map((m) => m.id),
			m6a.id,
			id7,
		]);
		expect(room.calls[2]!.chains).toEqual([undefined, undefined]);
		expect(room.calls[3]!.chains[0]).toBe(await room.log.chainAt("visitor", 8));

		const server = room.log.all();
		expect(client.messages).toEqual(server);
		// m6a, moved to the end of the stream, shows at its new place (each stream in offset order).
		expect(server.map((m) => m.content)).toEqual([
			"v1",
			"v2",
			"v3",
			"v4",
			"v5",
			"m6b",
			"m7",
			"m6a",
			"after the split",
		]);
		expect(server.find((m) => m.id === m6a.id)!.dataOffset).toBe(8);
		expect(sent).toEqual(room.log.get(sent.id));
		expect(client.pending).toEqual([]);
	});

	it("uploads a diverged stream whole together with what the room lacks of the other stream", async () => {
		const common = visitorStream(5);
		const agent = [1, 2, 3, 4].map((n) => message(2, n, `a${n}`));
		const m6a = message(1, 6, "m6a");
		const room = new FakeRoom([
			...common,
			message(1, 6, "m6b"),
			...agent.slice(0, 2),
		]);
		const client = await clientWith(room, [...common, m6a, ...agent]);

		await client.poll();

		expect(brief(room)).toEqual([
			["GET", "/messages", 1, [6, 4]],
			["POST", "/rebuild", 1, [6, 4]],
			["GET", "/messages", 0, [0, 4]],
			["GET", "/messages", 0, [7, 4]],
		]);
		expect(room.calls[1]!.uploaded).toEqual([
			...common.map((m) => m.id),
			m6a.id,
			agent[2]!.id,
			agent[3]!.id,
		]);
		// The read has the diverged stream from 0 and the other at the client's offset, with its chain.
		expect(room.calls[2]!.chains).toEqual([
			undefined,
			await room.log.chainAt("agent", 4),
		]);
		expect(client.messages).toEqual(room.log.all());
	});

	it("sends a diverged stream of 1,200 messages in chunks of at most 500", async () => {
		const common = visitorStream(1_199);
		const room = new FakeRoom([...common, message(1, 1_200, "theirs")]);
		const client = await clientWith(room, [
			...common,
			message(1, 1_200, "ours"),
		]);
		await client.poll();
		expect(
			room.calls
				.filter((c) => c.path === "/rebuild")
				.map((c) => c.uploaded!.length)
		).toEqual([500, 500, 200]);
		expect(client.messages).toEqual(room.log.all());
		expect(room.log.offsets.visitorDataOffset).toBe(1_201);
	});
});

describe("LiveChatClient.accept", () => {
	it("keeps the chat state the accept answers, and rebuilds with it later", async () => {
		const room = new FakeRoom([message(1, 1, "hello")]);
		room.chatState = undefined;
		const agent = await clientWith(room, [], "agent");
		room.acceptAnswers.push(
			Response.json({ chatId: CHAT, chatState: "state-with-agent" })
		);
		await agent.accept();
		expect(room.calls[0]).toMatchObject({
			method: "POST",
			path: "/accept",
			offsets: [0, 0],
			chains: [undefined, undefined],
		});

		await agent.poll();
		room.lost = true;
		await agent.poll();
		const rebuild = room.calls.find((c) => c.path === "/rebuild")!;
		expect(rebuild.body).toMatchObject({ chatState: "state-with-agent" });
	});

	it("is a 409 conflict when the chat no longer waits, and a 503 chat_unavailable when the room lost it", async () => {
		const room = new FakeRoom();
		const agent = await clientWith(room, [], "agent");
		room.acceptAnswers.push(
			Response.json(
				{
					code: -1,
					error: { type: "conflict", message: "the chat is not waiting" },
				},
				{ status: 409 }
			)
		);
		await expect(agent.accept()).rejects.toMatchObject({
			status: 409,
			type: "conflict",
		});
		room.acceptAnswers.push(
			Response.json({
				code: 1,
				visitorDataOffset: -1,
				agentDataOffset: -1,
				messages: [],
			})
		);
		await expect(agent.accept()).rejects.toMatchObject({
			status: 503,
			type: "chat_unavailable",
		});
		expect(room.calls.map((c) => c.path)).toEqual(["/accept", "/accept"]);
	});
});

describe("LiveChatClient after a move to another deployment", () => {
	/** The client knows a second deployment and moves there at the first failure. */
	const moves = {
		baseUrls: [BASE, "http://b.test"],
		backoffMs: 1,
		attempts: 1,
	};

	it("reads the chat there once and takes its versions of messages it already holds (one id accepted at two times)", async () => {
		const id = messageId();
		const primary = new FakeRoom([message(1, 1, "hello", id, 1_000)]);
		const secondary = new FakeRoom([message(1, 1, "hello", id, 1_500)]);
		let primaryDown = false;
		const fetchBoth: typeof fetch = async (input, init) => {
			if (String(input).startsWith("http://b.test"))
				return secondary.fetch(input, init);
			if (primaryDown) throw new TypeError("fetch failed");
			return primary.fetch(input, init);
		};
		const client = await clientWith({ fetch: fetchBoth }, [], "visitor", moves);
		await client.poll();
		expect(client.messages[0]!.sendTime).toBe(1_000);
		// The primary stops answering: the client moves to the secondary, whose chain at 1 is the same.
		primaryDown = true;
		await client.poll();
		expect(client.messages).toEqual(secondary.log.all());
		expect(secondary.calls.map((c) => [c.path, c.offsets])).toEqual([
			["/messages", [1, 0]],
			["/messages", [0, 0]],
		]);
	});

	it("reads the chat again when an answer that left before the move comes back from the deployment it left", async () => {
		const [x, y] = [messageId(), messageId()];
		const primary = new FakeRoom([message(1, 1, "x", x, 1_000)]);
		const secondary = new FakeRoom([
			message(1, 1, "x", x, 1_500),
			message(1, 2, "y", y, 2_500),
		]);
		let primaryDown = false;
		let answerHeldPoll!: () => void;
		const held = new Promise<void>((resolve) => (answerHeldPoll = resolve));
		const fetchBoth: typeof fetch = async (input, init) => {
			const url = String(input);
			if (url.startsWith("http://b.test")) return secondary.fetch(input, init);
			// A long-poll already in the primary's hands: it answers after the client moved on, with the primary's version of y.
			if (url.includes("wait=")) {
				await held;
				primary.log.append(message(1, 2, "y", y, 2_000));
				return primary.fetch(input, init);
			}
			if (primaryDown) throw new TypeError("fetch failed");
			return primary.fetch(input, init);
		};
		const client = await clientWith({ fetch: fetchBoth }, [], "visitor", moves);
		await client.poll();
		const longPoll = client.poll(10);
		primaryDown = true;
		await client.poll(); // moves to the secondary and reads it whole
		answerHeldPoll();
		await longPoll;
		await client.poll();
		expect(client.messages).toEqual(secondary.log.all());
	});
});
