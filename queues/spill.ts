/**
 * A queue message holds at most 128 KB, and a long chat's transcript is more. Such a payload goes
 * to D1 in parts before the message is sent, and the message carries only where to find it.
 */
import type { Envelope } from "../src/protocol/events.ts";

/** Below Cloudflare's 128 KB message limit, with room for the envelope around the payload. */
const MAX_INLINE_BYTES = 100_000;
/** Each part is one D1 row, well below D1's 2 MB row limit even at 4 bytes a character. */
const PART_CHARS = 400_000;

interface Spilled {
	$spilled: { parts: number };
}

const isSpilled = (payload: unknown): payload is Spilled =>
	typeof payload === "object" && payload !== null && "$spilled" in payload;

export async function spillIfLarge(db: D1Database, envelope: Envelope): Promise<Envelope> {
	const body = JSON.stringify(envelope.payload);
	if (body.length * 3 < MAX_INLINE_BYTES || new TextEncoder().encode(body).length < MAX_INLINE_BYTES) return envelope;
	const parts: string[] = [];
	for (let i = 0; i < body.length; i += PART_CHARS) parts.push(body.slice(i, i + PART_CHARS));
	// Same uniqueId, same payload: a second publish rewrites the same rows.
	const insert = db.prepare(`INSERT OR REPLACE INTO spilled_payloads (unique_id, part, body) VALUES (?, ?, ?)`);
	await db.batch(parts.map((part, i) => insert.bind(envelope.uniqueId, i, part)));
	return { ...envelope, payload: { $spilled: { parts: parts.length } } satisfies Spilled };
}

/** The payload as it was published, read back from D1 when it was spilled. */
export async function unspill(db: D1Database, envelope: Envelope): Promise<Envelope> {
	if (!isSpilled(envelope.payload)) return envelope;
	const { results } = await db
		.prepare(`SELECT body FROM spilled_payloads WHERE unique_id = ? ORDER BY part`)
		.bind(envelope.uniqueId)
		.all<{ body: string }>();
	if (results.length !== envelope.payload.$spilled.parts) throw new Error(`spilled payload of ${envelope.uniqueId} is incomplete`);
	return { ...envelope, payload: JSON.parse(results.map((r) => r.body).join("")) };
}
