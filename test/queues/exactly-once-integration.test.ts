/** One chat.end, delivered twice and published twice, has each effect once. */
import { env } from "cloudflare:test";
import { expect, it } from "vitest";
import { chatEndId, publisher } from "../../queues/publisher.ts";
import { converse, visitorAndAgent } from "../clients.ts";
import { createSite } from "../helpers.ts";
import { loseChat } from "../lose-chat.ts";
import {
	delivered,
	deliveryState,
	endChat,
	mailAndTicket,
	receiver,
	repeatsOf,
	waitFor,
	webhookAt,
} from "../queue-helpers.ts";
import type { Envelope } from "../../src/protocol/events.ts";

const TARGETS = ["persistence", "ticket", "webhook", "email"] as const;
const keyOf = (target: string, uniqueId: string) =>
	`chat.end.${target}:${uniqueId}${target === "email" ? ":support@example.com" : ""}`;

it(
	"skips every repeat of a chat.end: redelivered, and published again by a second deployment ending the same chat",
	{ timeout: 60_000 },
	async () => {
		const hook = receiver();
		const siteId = await createSite({
			integrations: { ...mailAndTicket, webhook: webhookAt(hook) },
		});
		const { visitor, agent, agentToken } = await visitorAndAgent({ siteId });
		await converse(visitor, agent, 2);
		const uniqueId = chatEndId(visitor.chatId);

		expect((await endChat(siteId, visitor.chatId, visitor.token)).status).toBe(
			200
		);
		// Ending again on the same room is idempotent and publishes nothing new.
		expect((await endChat(siteId, visitor.chatId, agentToken)).status).toBe(
			200
		);
		for (const target of TARGETS) await delivered(keyOf(target, uniqueId));
		const storedIds = async () =>
			(
				await env.DB.prepare(`SELECT id FROM chat_messages WHERE chat_id = ?`)
					.bind(visitor.chatId)
					.all<{ id: string }>()
			).results
				.map((r) => r.id)
				.sort();
		const firstCopy = await storedIds();
		expect(firstCopy).toHaveLength(6);

		// A second deployment: it never saw the end, the clients rebuild the chat there (sealed state: ended) and end it again.
		await loseChat(siteId, visitor.chatId);
		await visitor.poll();
		// Both sides' copies are back (a room rebuilt from one side holds chat.end until the agent's copy is back).
		await agent.poll();
		expect(await endChat(siteId, visitor.chatId, visitor.token)).toMatchObject({
			status: 200,
			body: { code: 0, status: "ended" },
		});
		// And a plain redelivery of the same event, as the queue may do.
		const row = await env.DB.prepare(`SELECT payload FROM chats WHERE id = ?`)
			.bind(visitor.chatId)
			.first<{ payload: string }>();
		await publisher(env, siteId).publish("chat.end", uniqueId, {
			...JSON.parse(row!.payload),
			transcript: [],
		} satisfies Envelope["payload"]);

		for (const target of TARGETS) {
			await waitFor(
				`${target} to skip both repeats`,
				async () => (await repeatsOf(keyOf(target, uniqueId))) >= 2
			);
			expect(
				await deliveryState(keyOf(target, uniqueId)),
				target
			).toMatchObject({ state: "done", attempts: 1 });
		}
		const count = (sql: string) =>
			env.DB.prepare(sql).bind(visitor.chatId).first<number>("n");
		expect(await count(`SELECT COUNT(*) AS n FROM chats WHERE id = ?`)).toBe(1);
		expect(
			await count(`SELECT COUNT(*) AS n FROM tickets WHERE chat_id = ?`)
		).toBe(1);
		// Persistence holds the union of both deployments' copies, each message once: the first stays,
		// the second room's own messages (its end notice) are added, the empty redelivery changed nothing.
		await visitor.poll();
		expect(await storedIds()).toEqual(
			[...new Set([...firstCopy, ...visitor.messages.map((m) => m.id)])].sort()
		);
		const requests = await hook.requests();
		expect(requests).toHaveLength(1);
		expect(requests[0]!.headers["x-livechat-delivery"]).toBe(
			(await deliveryState(keyOf("webhook", uniqueId)))!.deliveryId
		);
	}
);
