/** Wrap-ups, an end whose chat.end could not be queued at first, and a transcript too large for one queue message. */
import {
	env,
	runDurableObjectAlarm,
	runInDurableObject,
} from "cloudflare:test";
import { expect, it } from "vitest";
import { chatRoom } from "../../durable-objects/room-contract.ts";
import { chatEndId } from "../../queues/publisher.ts";
import { visitorClient } from "../clients.ts";
import {
	accept,
	api,
	createAgent,
	createSite,
	poll,
	send,
	startChat,
} from "../helpers.ts";
import { endGraceOver, loseChat } from "../lose-chat.ts";
import {
	countOf,
	deliveryState,
	endChat,
	persisted,
	postJson,
	queuesDrained,
	receiver,
	repeatsOf,
	rowOf,
	storedPayload,
	waitFor,
	webhookAt,
} from "../queue-helpers.ts";
import type { ChatRoom } from "../../durable-objects/chat-room.ts";

const roomOf = (siteId: string, chatId: string) =>
	chatRoom(env, siteId, chatId);

/** The room's chat.end queue fails every send from now on, as when its deployment is going down. */
const breakChatEndQueue = (room: DurableObjectStub<ChatRoom>, error: string) =>
	runInDurableObject(room, (instance: ChatRoom) => {
		const self = instance as unknown as { env: Env };
		self.env = {
			...self.env,
			Q_CHAT_END: {
				send: async () => Promise.reject(new Error(error)),
			} as unknown as Queue,
		};
	});

it(
	"takes wrap-ups from the chat's agents only, carries one into chat.end and keeps the latest",
	{ timeout: 30_000 },
	async () => {
		const hook = receiver();
		const siteId = await createSite({
			integrations: { webhook: webhookAt(hook) },
		});
		const chat = await startChat(siteId);
		const alice = await createAgent(siteId, "Alice");
		const bob = await createAgent(siteId, "Bob");
		await accept(siteId, chat.chatId, alice.token);
		expect(
			(
				await send(
					siteId,
					chat.chatId,
					alice.token,
					[0, 0],
					"Hello, Alice here"
				)
			).status
		).toBe(200);
		const wrapup = `/sites/${siteId}/chats/${chat.chatId}/wrapup`;

		expect((await postJson(wrapup, { category: 5 }, alice.token)).status).toBe(
			400
		);
		expect(
			(await postJson(wrapup, { category: "billing" }, bob.token)).status
		).toBe(403);
		expect(
			(await postJson(wrapup, { category: "billing" }, chat.token)).status
		).toBe(403);
		const first = await postJson(
			wrapup,
			{ category: "billing", comment: "refund promised" },
			alice.token
		);
		expect(first.status).toBe(202);
		expect((await endChat(siteId, chat.chatId, chat.token)).status).toBe(200);
		await waitFor("the chat in D1", () =>
			env.DB.prepare(`SELECT payload FROM chats WHERE id = ?`)
				.bind(chat.chatId)
				.first<string>("payload")
		);
		const payload = await storedPayload(chat.chatId);
		expect(payload.wrapup).toEqual({
			category: "billing",
			comment: "refund promised",
		});

		// After the end, a corrected wrap-up replaces the first one.
		expect(
			(await postJson(wrapup, { category: "sales" }, alice.token)).status
		).toBe(202);
		await waitFor(
			"the corrected wrap-up",
			async () =>
				(await env.DB.prepare(`SELECT category FROM wrapups WHERE chat_id = ?`)
					.bind(chat.chatId)
					.first<string>("category")) === "sales"
		);
		const history = await (
			await api(`/sites/${siteId}/history/chats/${chat.chatId}`, {
				token: alice.token,
			})
		).json<{ chat: { wrapups: unknown[] } }>();
		expect(history.chat.wrapups).toEqual([
			{
				agentId: alice.agentId,
				category: "sales",
				comment: null,
				wrappedUpAt: expect.any(Number),
			},
		]);
		// Bob took no part: the chat is not in his history.
		expect(
			(
				await api(`/sites/${siteId}/history/chats/${chat.chatId}`, {
					token: bob.token,
				})
			).status
		).toBe(404);

		await waitFor(
			"three webhooks",
			async () => (await hook.requests()).length === 3
		);
		expect(
			(await hook.requests()).map((r) => r.headers["x-livechat-event"]).sort()
		).toEqual(["agent.wrapup", "agent.wrapup", "chat.end"]);
	}
);

it(
	"ends the chat even when chat.end cannot be queued yet, and queues it later, once",
	{ timeout: 30_000 },
	async () => {
		const siteId = await createSite();
		const chat = await startChat(siteId);
		await send(siteId, chat.chatId, chat.token, [0, 0], "Anyone there?");
		const room = roomOf(siteId, chat.chatId);
		await breakChatEndQueue(room, "queue unavailable");
		const failed = await endChat(siteId, chat.chatId, chat.token);
		expect(failed).toMatchObject({
			status: 503,
			body: { code: -1, error: { type: "unavailable" } },
		});
		expect((await poll(siteId, chat.chatId, chat.token)).body.status).toBe(
			"ended"
		);

		// The queue is back: the room's alarm queues the end without anyone asking.
		await runInDurableObject(room, (instance: ChatRoom) => {
			(instance as unknown as { env: Env }).env = env;
		});
		expect(await runDurableObjectAlarm(room)).toBe(true);
		await persisted(chat.chatId);
		expect((await endChat(siteId, chat.chatId, chat.token)).status).toBe(200);
		await queuesDrained(env.Q_CHAT_END);
		await queuesDrained(env.Q_PERSISTENCE);
		expect(
			await deliveryState(`chat.end.persistence:${chatEndId(chat.chatId)}`)
		).toMatchObject({ attempts: 1 });
		expect(
			await repeatsOf(`chat.end.persistence:${chatEndId(chat.chatId)}`)
		).toBe(0);
	}
);

it(
	"persists a transcript larger than a queue message, every message of it",
	{ timeout: 60_000 },
	async () => {
		const siteId = await createSite();
		const chat = await startChat(siteId);
		const agent = await createAgent(siteId);
		await accept(siteId, chat.chatId, agent.token);
		let offsets: [number, number] = [0, 0];
		for (let i = 0; i < 40; i++) {
			const { body } = await send(
				siteId,
				chat.chatId,
				i % 2 ? agent.token : chat.token,
				offsets,
				`${i} ${"é".repeat(3990)}`
			);
			offsets = [body.visitorDataOffset, body.agentDataOffset];
		}
		expect((await endChat(siteId, chat.chatId, chat.token)).status).toBe(200);
		await persisted(chat.chatId);
		// 40 messages, the agent's join notice and the end notice.
		const stored = await rowOf(
			`SELECT COUNT(*) AS n, SUM(LENGTH(content)) AS chars FROM chat_messages WHERE chat_id = ?`,
			chat.chatId
		);
		const server = (await poll(siteId, chat.chatId, agent.token)).body.messages;
		expect(stored).toEqual({
			n: 42,
			chars: server.reduce((sum, m) => sum + m.content.length, 0),
		});
		// It went through D1: the payload was over the inline limit.
		expect(
			await countOf(
				`SELECT COUNT(*) AS n FROM spilled_payloads WHERE body LIKE ?`,
				`%${chat.chatId}%`
			)
		).toBeGreaterThan(0);
	}
);

it(
	"publishes chat.end from a deployment that learns of the end only through the clients' rebuild",
	{ timeout: 30_000 },
	async () => {
		const siteId = await createSite();
		const visitor = await visitorClient(siteId, { name: "Fay" });
		await visitor.send("Goodbye");
		// The first deployment stores the end and goes away before chat.end leaves it.
		const room = roomOf(siteId, visitor.chatId);
		await breakChatEndQueue(room, "deployment going down");
		await expect(visitor.end()).rejects.toThrow();
		// The visitor's copy learns the chat ended (the end notice and the sealed state) before the deployment goes.
		await visitor.poll();
		await loseChat(siteId, visitor.chatId);

		// The room that takes over gets the chat, ended, from the visitor's copy; its alarm announces the end.
		await visitor.poll();
		const takenOver = roomOf(siteId, visitor.chatId);
		// Rebuilt from the visitor's copy alone, the room would wait for an agent's copy: the wait is over.
		await endGraceOver(siteId, visitor.chatId);
		expect(await runDurableObjectAlarm(takenOver)).toBe(true);
		await persisted(visitor.chatId);
		expect(
			await env.DB.prepare(`SELECT message_count FROM chats WHERE id = ?`)
				.bind(visitor.chatId)
				.first<number>("message_count")
		).toBe(2);
		// Out, so the ended room is not woken again for it.
		expect(
			await runInDurableObject(takenOver, (_instance, state) =>
				state.storage.getAlarm()
			)
		).toBeNull();
	}
);
