/**
 * Exactly-once effect (SPEC §8). Queues deliver at least once, and two deployments may publish the
 * same event, so every effect is keyed by `<second-level name>:<uniqueId>` in D1:
 * - effects inside D1 write their rows and mark the key done in one batch (one transaction);
 * - effects outside (email, webhook, Salesforce, Zendesk) claim the key for a while first, so two
 *   copies in flight never both act, and mark it done after. Only a crash between the outside call
 *   and the mark can repeat it; the stable delivery id lets the receiver spot that repeat.
 */
import { sha256Hex } from "../src/security/encoding.ts";

/** Longer than any outside call may take (DELIVERY_TIMEOUT_MS, EMAIL_TIMEOUT_MS); a claim older than this is abandoned. */
export const CLAIM_MS = 60_000;

/** `until` doubles as the claim's token: a release only gives back the claim it took. */
export type Claim =
	| { owned: true; deliveryId: string; until: number }
	| { owned: false; done: boolean };

/** Stable for a key, whatever the attempt: the webhook's X-Livechat-Delivery and the email's Message-ID. */
export async function deliveryIdOf(key: string): Promise<string> {
	const hex = (await sha256Hex(key)).slice(0, 32);
	return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** True when the effect under this key is done already; the copy in hand is then counted as a repeat and skipped. */
export async function skipRepeat(
	db: D1Database,
	key: string
): Promise<boolean> {
	const result = await db
		.prepare(
			`UPDATE deliveries SET repeats = repeats + 1 WHERE key = ? AND state = 'done'`
		)
		.bind(key)
		.run();
	return result.meta.changes > 0;
}

/** Take the key unless it is done or someone else holds a live claim. */
export async function claim(
	db: D1Database,
	key: string,
	now = Date.now()
): Promise<Claim> {
	const deliveryId = await deliveryIdOf(key);
	const taken = await db
		.prepare(
			`INSERT INTO deliveries (key, delivery_id, state, attempts, claimed_until) VALUES (?1, ?2, 'claimed', 1, ?3)
			 ON CONFLICT (key) DO UPDATE SET attempts = attempts + 1, claimed_until = ?3
			 WHERE deliveries.state = 'claimed' AND deliveries.claimed_until <= ?4
			 RETURNING delivery_id`
		)
		.bind(key, deliveryId, now + CLAIM_MS, now)
		.first<{ delivery_id: string }>();
	if (taken)
		return {
			owned: true,
			deliveryId: taken.delivery_id,
			until: now + CLAIM_MS,
		};
	return { owned: false, done: await skipRepeat(db, key) };
}

export const markDoneStatement = (
	db: D1Database,
	key: string,
	deliveryId: string,
	now = Date.now()
) =>
	db
		.prepare(
			`INSERT INTO deliveries (key, delivery_id, state, attempts, claimed_until, done_at) VALUES (?1, ?2, 'done', 1, 0, ?3)
			 ON CONFLICT (key) DO UPDATE SET state = 'done', done_at = ?3, last_error = NULL`
		)
		.bind(key, deliveryId, now);

/**
 * Give the claim back at once, with why, so the retry (or the dead-letter record) can say. Only our
 * own claim: one that ran out and was taken by another copy stays that copy's.
 */
export async function release(
	db: D1Database,
	key: string,
	until: number,
	error: string
): Promise<void> {
	await db
		.prepare(
			`UPDATE deliveries SET claimed_until = 0, last_error = ? WHERE key = ? AND state = 'claimed' AND claimed_until = ?`
		)
		.bind(error.slice(0, 1000), key, until)
		.run();
}

/** The last failure recorded under a key, or under one of its per-recipient keys (`<key>:<recipient>`). */
export async function lastError(
	db: D1Database,
	key: string
): Promise<string | undefined> {
	const row = await db
		// A key range (':' + 1 is ';'), so the primary key index answers it.
		.prepare(
			`SELECT last_error FROM deliveries WHERE (key = ?1 OR (key > ?1 || ':' AND key < ?1 || ';')) AND last_error IS NOT NULL LIMIT 1`
		)
		.bind(key)
		.first<{ last_error: string | null }>();
	return row?.last_error ?? undefined;
}
