/** The daily clean-up keeps every spilled payload a dead letter still carries. */
import {
	createExecutionContext,
	createMessageBatch,
	env,
	getQueueResult,
} from "cloudflare:test";
import { expect, it } from "vitest";
import { consumeBatch } from "../../queues/consumer.ts";
import { cleanUp } from "../../queues/retention.ts";
import { spillIfLarge, unspill } from "../../queues/spill.ts";
import { countOf } from "../queue-helpers.ts";
import type { Envelope } from "../../src/protocol/events.ts";

const DAY_MS = 24 * 60 * 60 * 1000;

/** A chat.end too large for a queue message, spilled to D1 as the publisher does, `ageDays` ago. */
async function spilledEnvelope(
	ageDays: number,
	now: number
): Promise<{ envelope: Envelope; spillId: string; whole: Envelope }> {
	const marker = crypto.randomUUID();
	const whole: Envelope = {
		uniqueId: `chat.end:${marker}`,
		name: "chat.end",
		siteId: "site-retention",
		payload: {
			id: marker,
			transcript: Array.from({ length: 60 }, (_, i) => ({
				i,
				content: `${marker} ${"long message ".repeat(200)}`,
			})),
		},
		publishedAt: now - ageDays * DAY_MS,
	};
	const envelope = await spillIfLarge(env.DB, whole);
	const spillId = (envelope.payload as { $spilled: { id: string } }).$spilled
		.id;
	await env.DB.prepare(
		`UPDATE spilled_payloads SET created_at = ? WHERE spill_id = ?`
	)
		.bind(now - ageDays * DAY_MS, spillId)
		.run();
	return { envelope, spillId, whole };
}

const partsOf = async (spillId: string) =>
	(await countOf(
		`SELECT COUNT(*) AS n FROM spilled_payloads WHERE spill_id = ?`,
		spillId
	)) ?? 0;

it("keeps old spilled payloads that dead letters point at, and deletes the others", async () => {
	const now = Date.now();
	// Two letters, each way a message reaches the dead-letter queue: retries exhausted (the envelope
	// as it was), and rejected by a consumer (the envelope inside the rejection).
	const exhausted = await spilledEnvelope(8, now);
	const rejected = await spilledEnvelope(9, now);
	const unreferenced = await spilledEnvelope(8, now);
	const young = await spilledEnvelope(6, now);
	for (const spilled of [exhausted, rejected, unreferenced, young])
		expect(await partsOf(spilled.spillId)).toBeGreaterThan(0);

	const batch = createMessageBatch("dead-letter", [
		{
			id: "exhausted",
			timestamp: new Date(),
			attempts: 1,
			body: { ...exhausted.envelope, name: "chat.end.webhook" },
		},
		{
			id: "rejected",
			timestamp: new Date(),
			attempts: 1,
			body: {
				rejected: { queue: "deliver-zendesk", reason: "answered 422" },
				body: { ...rejected.envelope, name: "chat.end.zendesk" },
			},
		},
	]);
	const ctx = createExecutionContext();
	await consumeBatch(batch, env);
	expect(await getQueueResult(batch, ctx)).toMatchObject({ retryMessages: [] });

	await cleanUp(env, now);

	expect(await partsOf(unreferenced.spillId)).toBe(0);
	expect(await partsOf(young.spillId)).toBeGreaterThan(0);
	// Each letter can still be read whole, payload and all, to be looked at or replayed.
	for (const spilled of [exhausted, rejected]) {
		const letter = await env.DB.prepare(
			`SELECT body FROM dead_letters WHERE unique_id = ?`
		)
			.bind(spilled.envelope.uniqueId)
			.first<{ body: string }>();
		const body = JSON.parse(letter!.body) as Envelope;
		expect(await unspill(env.DB, body)).toEqual({
			...spilled.whole,
			name: body.name,
		});
	}

	// A month on, still there: letters are kept, and so is what they carry.
	await cleanUp(env, now + 30 * DAY_MS);
	expect(await partsOf(exhausted.spillId)).toBeGreaterThan(0);
	expect(await partsOf(rejected.spillId)).toBeGreaterThan(0);
	expect(await partsOf(young.spillId)).toBe(0);
});

it("keeps the payloads of letters recorded before dead letters named their spill (the migration fills it in)", async () => {
	const now = Date.now();
	const old = await spilledEnvelope(8, now);
	// A letter as the previous release recorded it: no spill_id; and one whose body is not JSON at all.
	await env.DB.batch([
		env.DB.prepare(
			`INSERT INTO dead_letters (queue, name, unique_id, site_id, reason, body, received_at) VALUES ('(retries exhausted)', 'chat.end.webhook', ?, 's', 'r', ?, ?)`
		).bind(old.envelope.uniqueId, JSON.stringify(old.envelope), now),
		env.DB.prepare(
			`INSERT INTO dead_letters (queue, reason, body, received_at) VALUES ('chat-end', 'malformed envelope', 'just text {', ?)`
		).bind(now),
	]);
	const migration = env.TEST_MIGRATIONS.find((m) =>
		m.name.startsWith("0003_")
	)!;
	const backfill = migration.queries.filter((q) =>
		q.startsWith("UPDATE dead_letters")
	);
	expect(backfill).toHaveLength(1);
	await env.DB.prepare(backfill[0]!).run();

	await cleanUp(env, now);
	expect(await partsOf(old.spillId)).toBeGreaterThan(0);
});
