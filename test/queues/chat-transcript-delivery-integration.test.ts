/** chat.transcript (SPEC §8) waits for its chat.end to be stored, and goes to persistence only. */
import { env } from "cloudflare:test";
import { expect, it } from "vitest";
import { chatEndId, publisher } from "../../queues/publisher.ts";
import { createSite } from "../helpers.ts";
import {
	countOf,
	deadLetters,
	delivered,
	deliverOnce,
	deliveryQueues,
	deliveryState,
	everyIntegration,
	queuesDrained,
} from "../queue-helpers.ts";
import {
	chatEnd,
	message,
	storedChat,
	storedIds,
	transcriptIdOf,
	transcriptOf,
} from "./transcripts.ts";
import type { Envelope } from "../../src/protocol/events.ts";

it("keeps a chat.transcript that comes before its chat.end until the chat is stored, then merges it", async () => {
	const siteId = await createSite();
	const chatId = crypto.randomUUID();
	const v1 = message(1, 1, 1000, "visitor-1");
	const a1 = message(2, 1, 2000, "agent-a");
	const transcript = transcriptOf(siteId, chatId, ["agent-a"], [v1, a1]);
	const envelopeOf = (
		name: string,
		uniqueId: string,
		payload: unknown
	): Envelope => ({ uniqueId, name, siteId, payload, publishedAt: Date.now() });
	const deliver = (envelope: Envelope) =>
		deliverOnce("deliver-persistence", envelope);
	const early = envelopeOf(
		"chat.transcript.persistence",
		transcriptIdOf(transcript),
		transcript
	);

	const first = await deliver(early);
	expect(first.result).toMatchObject({
		explicitAcks: [],
		retryMessages: [{ msgId: "m1" }],
	});
	expect(first.asked).toEqual([{ delaySeconds: 10 }]);
	expect(await storedIds(chatId)).toEqual([]);
	expect(
		await deliveryState(`chat.transcript.persistence:${early.uniqueId}`)
	).toBeNull();

	expect(
		(
			await deliver(
				envelopeOf(
					"chat.end.persistence",
					chatEndId(chatId),
					chatEnd(siteId, chatId, [], [v1])
				)
			)
		).result
	).toMatchObject({ explicitAcks: ["m1"] });
	expect((await deliver(early)).result).toMatchObject({
		explicitAcks: ["m1"],
		retryMessages: [],
	});
	expect(await storedIds(chatId)).toEqual([v1.id, a1.id]);
	expect(await storedChat(chatId)).toMatchObject({
		agentIds: JSON.stringify(["agent-a"]),
		messageCount: 2,
	});
	expect(await deadLetters(early.uniqueId)).toEqual([]);
});

it(
	"sends chat.transcript to persistence only, whatever else the site has switched on",
	{ timeout: 30_000 },
	async () => {
		const { hook, salesforce, zendesk, integrations } = everyIntegration();
		const siteId = await createSite({ integrations });
		const chatId = crypto.randomUUID();
		const v1 = message(1, 1, 1000, "visitor-1");
		const a1 = message(2, 1, 2000, "agent-a");
		const events = publisher(env, siteId);
		await events.publish(
			"chat.end",
			chatEndId(chatId),
			chatEnd(siteId, chatId, ["agent-a"], [v1])
		);
		for (const target of [
			"persistence",
			"ticket",
			"webhook",
			"salesforce",
			"zendesk",
		])
			await delivered(`chat.end.${target}:${chatEndId(chatId)}`);
		await delivered(`chat.end.email:${chatEndId(chatId)}:support@example.com`);

		const transcript = transcriptOf(siteId, chatId, ["agent-a"], [v1, a1]);
		const uniqueId = transcriptIdOf(transcript);
		await events.publish("chat.transcript", uniqueId, transcript);
		await delivered(`chat.transcript.persistence:${uniqueId}`);
		// Anything else would have left the distributor with persistence's message: drained, it would show.
		await queuesDrained(env.Q_CHAT_END);
		await queuesDrained(...deliveryQueues());
		const keys = await env.DB.prepare(
			`SELECT key FROM deliveries WHERE key LIKE 'chat.transcript.%' AND instr(key, ?) > 0 ORDER BY key`
		)
			.bind(`:${uniqueId}`)
			.all<{ key: string }>();
		expect(keys.results.map((r) => r.key)).toEqual([
			`chat.transcript.persistence:${uniqueId}`,
		]);
		for (const target of [hook, salesforce, zendesk])
			expect(await target.requests()).toHaveLength(1);
		expect((await hook.requests())[0]!.headers["x-livechat-event"]).toBe(
			"chat.end"
		);
		expect(
			await countOf(
				`SELECT COUNT(*) AS n FROM tickets WHERE chat_id = ?`,
				chatId
			)
		).toBe(1);
		expect(await storedIds(chatId)).toEqual([v1.id, a1.id]);
		expect(await deadLetters(uniqueId)).toEqual([]);
	}
);
