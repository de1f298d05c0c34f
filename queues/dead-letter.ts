/**
 * The dead-letter queue (SPEC §8): messages no retry can deliver, recorded in D1 with the reason
 * and logged, for people to look at. Two ways in: a consumer rejects a message it can never act on
 * (with its reason), or the queue gives up after `max_retries` (the reason is the last error seen).
 */
import { z } from "zod";
import { retryDelaySeconds } from "./backoff.ts";
import { lastError } from "./deliveries.ts";
import { spillIdOf } from "./spill.ts";

export const DEAD_LETTER_QUEUE = "dead-letter";

const RejectedSchema = z.object({
	rejected: z.object({ queue: z.string(), reason: z.string() }),
	body: z.unknown(),
});
const EnvelopeFieldsSchema = z
	.looseObject({ name: z.string(), uniqueId: z.string(), siteId: z.string() })
	.partial();

/** A queue message holds 128 KB; a rejected body near that is cut (and says so) rather than lost with its reason. */
const MAX_REJECTED_BODY_CHARS = 100_000;

export async function rejectToDeadLetter(
	env: Env,
	queue: string,
	body: unknown,
	reason: string
): Promise<void> {
	console.error(`${queue}: rejected to the dead-letter queue: ${reason}`);
	const json = safeJson(body);
	const kept =
		json.length > MAX_REJECTED_BODY_CHARS
			? `${json.slice(0, MAX_REJECTED_BODY_CHARS)}… (cut: ${json.length} characters in all)`
			: body;
	await env.Q_DEAD_LETTER.send(
		{ rejected: { queue, reason: reason.slice(0, 2000) }, body: kept },
		{ contentType: "json" }
	);
}

export async function recordDeadLetters(
	batch: MessageBatch,
	env: Env
): Promise<void> {
	const insert = env.DB.prepare(
		`INSERT INTO dead_letters (queue, name, unique_id, site_id, reason, body, received_at, spill_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`
	);
	try {
		await env.DB.batch(
			await Promise.all(
				batch.messages.map((message) => letterRow(env, insert, message))
			)
		);
	} catch (error) {
		// Not lost: each letter goes back on this queue (up to 100 times, with backoff), and its whole body is in the log.
		for (const message of batch.messages) {
			console.error(
				`dead-letter: could not record ${message.id}, retrying; body: ${safeJson(message.body)}`,
				error
			);
			message.retry({
				delaySeconds: retryDelaySeconds(env, message.attempts),
			});
		}
	}
}

async function letterRow(
	env: Env,
	insert: D1PreparedStatement,
	message: Message
): Promise<D1PreparedStatement> {
	const rejected = RejectedSchema.safeParse(message.body);
	const body = rejected.success ? rejected.data.body : message.body;
	const fields = EnvelopeFieldsSchema.safeParse(body);
	const { name, uniqueId, siteId } = fields.success ? fields.data : {};
	const queue = rejected.success
		? rejected.data.rejected.queue
		: "(retries exhausted)";
	const reason = rejected.success
		? rejected.data.rejected.reason
		: `retries exhausted: ${(name && uniqueId && (await lastError(env.DB, `${name}:${uniqueId}`))) || "the consumer kept failing"}`;
	console.error(
		`dead letter from ${queue}: ${name ?? "?"} ${uniqueId ?? "?"}: ${reason}`
	);
	// A spilled payload stays in D1 as long as a letter needs it (retention.ts).
	return insert.bind(
		queue,
		name ?? null,
		uniqueId ?? null,
		siteId ?? null,
		reason,
		safeJson(body),
		Date.now(),
		spillIdOf(body) ?? null
	);
}

function safeJson(body: unknown): string {
	try {
		return JSON.stringify(body) ?? String(body);
	} catch {
		return String(body);
	}
}
