/** SPEC §6 abuse limits: each answers 429 with Retry-After (or closes 4429) and stores nothing. */
import { env, runInDurableObject, SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { LiveChatClient } from "../client/live-chat-client.ts";
import { chatRoom } from "../durable-objects/room-contract.ts";
import { TYPING_REPEAT_MS } from "../durable-objects/room-sockets.ts";
import {
	accept,
	api,
	BASE,
	createAgent,
	createSite,
	json,
	poll,
	send,
	startChat,
} from "./helpers.ts";
import { loseChat } from "./lose-chat.ts";
import { roomOf, stopRoomClock } from "./room-clock.ts";
import { TestSocket } from "./sockets.ts";
import { until } from "./waiting.ts";

const upgrade = (siteId: string, chatId: string, address?: string) =>
	SELF.fetch(`${BASE}/v1/sites/${siteId}/chats/${chatId}/ws`, {
		headers: {
			Upgrade: "websocket",
			...(address ? { "CF-Connecting-IP": address } : {}),
		},
	});

function expectRateLimited(res: Response, body: { error?: { type: string } }) {
	expect(res.status).toBe(429);
	expect(body.error?.type).toBe("rate_limited");
	expect(Number(res.headers.get("Retry-After"))).toBeGreaterThanOrEqual(1);
}

describe("chat starts", () => {
	it("are limited per client address and site, an IPv6 address counting by its /64", async () => {
		const siteId = await createSite({
			limits: { chatStartsPerMinutePerAddress: 3 },
		});
		const start = (address: string) =>
			api(`/sites/${siteId}/chats`, {
				method: "POST",
				body: json({ visitor: {} }),
				headers: { "CF-Connecting-IP": address },
			});
		for (const address of [
			"2001:db8:1:2::a",
			"2001:db8:1:2::b",
			"2001:db8:1:2:ffff::1",
		])
			expect((await start(address)).status).toBe(201);
		const refused = await start("2001:db8:1:2::c");
		expectRateLimited(refused, await refused.json());
		// Another /64, another address, another site: their own allowance.
		expect((await start("2001:db8:1:3::a")).status).toBe(201);
		expect((await start("198.51.100.7")).status).toBe(201);
		const otherSite = await createSite({
			limits: { chatStartsPerMinutePerAddress: 3 },
		});
		expect(
			(
				await api(`/sites/${otherSite}/chats`, {
					method: "POST",
					body: json({}),
					headers: { "CF-Connecting-IP": "2001:db8:1:2::c" },
				})
			).status
		).toBe(201);
	});

	it("of a made-up site are 404, and so are its socket upgrades: no Durable Object is made", async () => {
		expect(
			(
				await api(`/sites/no-such-site/chats`, {
					method: "POST",
					body: json({}),
				})
			).status
		).toBe(404);
		expect((await upgrade("no-such-site", crypto.randomUUID())).status).toBe(
			404
		);
	});
});

describe("WebSockets", () => {
	it("upgrades are limited per client address", async () => {
		const siteId = await createSite({
			limits: { socketUpgradesPerMinutePerAddress: 3 },
		});
		const chat = await startChat(siteId);
		for (let i = 0; i < 3; i++)
			expect((await upgrade(siteId, chat.chatId, "203.0.113.9")).status).toBe(
				101
			);
		const refused = await upgrade(siteId, chat.chatId, "203.0.113.9");
		expectRateLimited(refused, await refused.json());
		expect((await upgrade(siteId, chat.chatId, "203.0.113.10")).status).toBe(
			101
		);
	});

	it("a chat holds at most socketsPerChat sockets, however many one token opens", async () => {
		const siteId = await createSite({ limits: { socketsPerChat: 2 } });
		const chat = await startChat(siteId);
		const first = await TestSocket.hello(siteId, chat.chatId, chat.token);
		await TestSocket.hello(siteId, chat.chatId, chat.token);
		const refused = await upgrade(siteId, chat.chatId);
		expectRateLimited(refused, await refused.json());
		// A socket that closes makes room again, once the room has heard of the close.
		first.close();
		await first.closed();
		const room = roomOf(siteId, chat.chatId);
		await until(
			() =>
				runInDurableObject(
					room,
					(_instance, state) =>
						state
							.getWebSockets()
							.filter((ws) => ws.readyState === WebSocket.OPEN).length < 2
				),
			"the room to hear of the close"
		);
		expect((await upgrade(siteId, chat.chatId)).status).toBe(101);
	});

	it("closes a socket that sends more frames a second than the site allows, with 4429", async () => {
		const siteId = await createSite({
			limits: { framesPerSecondPerSocket: 5 },
		});
		const chat = await startChat(siteId);
		const socket = await TestSocket.hello(siteId, chat.chatId, chat.token);
		// All thirty in the same second of the room's clock, however long they take to arrive.
		await stopRoomClock(roomOf(siteId, chat.chatId));
		for (let i = 0; i < 30; i++)
			socket.send({ type: "read", visitorDataOffset: 0, agentDataOffset: 0 });
		expect(await socket.closed()).toBe(4429);
	});

	it("coalesces typing and read frames: a flood from one socket reaches the others as a few frames", async () => {
		const siteId = await createSite({
			limits: { framesPerSecondPerSocket: 1000 },
		});
		const chat = await startChat(siteId);
		const agent = await createAgent(siteId);
		await accept(siteId, chat.chatId, agent.token);
		const [visitor, agentSocket] = [
			await TestSocket.hello(siteId, chat.chatId, chat.token),
			await TestSocket.hello(siteId, chat.chatId, agent.token, [0, 1]),
		];
		await agentSocket.settled();
		// The room's time stands still: the whole flood falls within one coalescing window, however long it takes.
		const room = roomOf(siteId, chat.chatId);
		const start = Date.now();
		await stopRoomClock(room, start);
		for (let i = 0; i < 200; i++) visitor.send({ type: "typing", on: true });
		for (let i = 0; i < 200; i++)
			visitor.send({ type: "read", visitorDataOffset: 0, agentDataOffset: 1 });
		visitor.send({ type: "typing", on: false });
		// Once the room has read the whole flood, the agent has had one "typing", one read receipt and the "stopped typing".
		await visitor.settled();
		const relayed = await agentSocket.settled();
		expect(relayed.map((f) => f.type === "typing" && f.on)).toEqual([
			true,
			false,
			false,
		]);
		expect(relayed.map((f) => f.type)).toEqual(["typing", "read", "typing"]);

		// A typing that goes on is relayed again once the window has passed, so a late joiner sees it, and not before.
		const typingAt = async (at: number) => {
			await stopRoomClock(room, at);
			visitor.send({ type: "typing", on: true });
			await visitor.settled();
			return (await agentSocket.settled()).map(
				(f) => f.type === "typing" && f.on
			);
		};
		expect(await typingAt(start + 10_000)).toEqual([true]);
		expect(await typingAt(start + 10_000 + TYPING_REPEAT_MS - 1)).toEqual([]);
		expect(await typingAt(start + 10_000 + TYPING_REPEAT_MS)).toEqual([true]);
	});

	it("closes a socket that sends anything but a small hello before its hello, with 4401", async () => {
		const siteId = await createSite();
		const chat = await startChat(siteId);
		for (const frame of [
			"x".repeat(100_000),
			"{not json",
			JSON.stringify({
				type: "send",
				message: { id: crypto.randomUUID(), content: "hi" },
			}),
		]) {
			const socket = await TestSocket.open(siteId, chat.chatId);
			socket.send(frame);
			expect(await socket.closed()).toBe(4401);
		}
		expect((await poll(siteId, chat.chatId, chat.token)).body.messages).toEqual(
			[]
		);
	});
});

/**
 * The limit across a visitor's chats is the Workers rate limit binding (120 a minute, wrangler.toml), whose
 * local simulation starts a new count at each turn of the wall clock's minute: a test that crossed one would
 * see the count reset. The chat's room is given a limiter with the same 120 that never turns over, counting
 * by the key the room asks with, so the test sees the room's rule and not the minute it ran in.
 */
const sendsByKey = new Map<string, number>();
const minutelessLimit = {
	limit: async ({ key }: { key: string }) => {
		const count = (sendsByKey.get(key) ?? 0) + 1;
		sendsByKey.set(key, count);
		return { success: count <= 120 };
	},
} as unknown as RateLimit;
const countSendsWithoutMinutes = (siteId: string, chatId: string) =>
	runInDurableObject(chatRoom(env, siteId, chatId), (instance) => {
		const room = instance as unknown as { env: Env };
		room.env = { ...room.env, VISITOR_SEND_LIMIT: minutelessLimit };
	});

describe("sends per visitor", () => {
	it("are counted from the chat itself, so an eviction or a lost room does not reset them", async () => {
		const siteId = await createSite({
			limits: { messagesPerMinutePerVisitor: 3 },
		});
		const visitor = await LiveChatClient.startChat({
			baseUrls: [BASE],
			siteId,
			fetch: (input, init) => SELF.fetch(new Request(input, init)),
		});
		for (let i = 1; i <= 3; i++) await visitor.send(`hello ${i}`);
		await loseChat(siteId, visitor.chatId);
		await visitor.poll(); // rebuilds the room from the visitor's copy
		const refused = await api(
			`/sites/${siteId}/chats/${visitor.chatId}/messages`,
			{
				method: "POST",
				token: visitor.token,
				offsets: [3, 0],
				body: json({ id: crypto.randomUUID(), content: "one too many" }),
			}
		);
		expectRateLimited(refused, await refused.json());
		expect(
			(await poll(siteId, visitor.chatId, visitor.token)).body.visitorDataOffset
		).toBe(3);
	});

	it("are counted across the visitor's chats, a new chat with the same visitorState does not reset them", async () => {
		const siteId = await createSite({
			limits: {
				messagesPerMinutePerVisitor: 100,
				chatStartsPerMinutePerAddress: 100,
			},
		});
		const first = await startChat(siteId);
		expect(first.visitorState).toBeTruthy();
		await countSendsWithoutMinutes(siteId, first.chatId);
		for (let i = 0; i < 100; i++)
			expect(
				(await send(siteId, first.chatId, first.token, [i, 0], `a${i}`)).status
			).toBe(200);
		const again = await api(`/sites/${siteId}/chats`, {
			method: "POST",
			body: json({ visitorState: first.visitorState }),
		});
		const second = await again.json<{
			chatId: string;
			token: string;
			visitorId: string;
		}>();
		expect(second.visitorId).toBe(first.visitorId);
		await countSendsWithoutMinutes(siteId, second.chatId);
		let sent = 0;
		let last: Response | undefined;
		for (; sent < 100; sent++) {
			last = await api(`/sites/${siteId}/chats/${second.chatId}/messages`, {
				method: "POST",
				token: second.token,
				offsets: [sent, 0],
				body: json({ id: crypto.randomUUID(), content: "b" }),
			});
			if (last.status !== 200) break;
		}
		// 120 a minute across the visitor's chats: the new chat is refused long before its own 100.
		expect(sent).toBe(120 - 100);
		const body = await last!.json<{
			error: { type: string; message: string };
		}>();
		expectRateLimited(last!, body);
		expect(body.error.message).toMatch(/across your chats/);
		expect(
			(await poll(siteId, second.chatId, second.token)).body.visitorDataOffset
		).toBe(sent);
	});
});

describe("long-polls", () => {
	it("hold at most 64 at once on one chat; the next one is 429", async () => {
		const siteId = await createSite();
		const chat = await startChat(siteId);
		const held = Array.from({ length: 64 }, () =>
			api(`/sites/${siteId}/chats/${chat.chatId}/messages?wait=20`, {
				token: chat.token,
			})
		);
		const room = chatRoom(env, siteId, chat.chatId);
		const waiting = () =>
			runInDurableObject(
				room,
				(instance) =>
					(instance as unknown as { waiters: Set<unknown> }).waiters.size
			);
		await until(async () => (await waiting()) === 64, "64 polls held");
		const refused = await api(
			`/sites/${siteId}/chats/${chat.chatId}/messages?wait=20`,
			{ token: chat.token }
		);
		expectRateLimited(refused, await refused.json());
		// News releases every held poll at once.
		await send(siteId, chat.chatId, chat.token, [0, 0], "news");
		expect((await Promise.all(held)).every((r) => r.status === 200)).toBe(true);
	});
});

describe("offline messages", () => {
	it("are limited per IPv6 /64, not per full address", async () => {
		const siteId = await createSite();
		const submit = (address: string) =>
			api(`/sites/${siteId}/offline-messages`, {
				method: "POST",
				headers: { "CF-Connecting-IP": address },
				body: json({ email: "olga@example.com", message: "hi" }),
			});
		for (let i = 1; i <= 5; i++)
			expect((await submit(`2001:db8:9:9::${i}`)).status).toBe(202);
		const refused = await submit("2001:db8:9:9::77");
		expectRateLimited(refused, await refused.json());
		expect(env.CHAT_STATE).toBeDefined();
	});
});
