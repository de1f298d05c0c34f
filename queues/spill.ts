/**
 * A queue message holds at most 128 KB, and a long chat's transcript is more. Such a payload goes
 * to D1 in parts before the message is sent, and the message carries only where to find it.
 */
import { sha256Hex } from "../src/security/encoding.ts";
import type { Envelope } from "../src/protocol/events.ts";

/** Below Cloudflare's 128 KB message limit, with room for the envelope around the payload. */
const MAX_INLINE_BYTES = 100_000;
/** Each part is one D1 row, below D1's 2 MB row limit even at 3 bytes a UTF-16 unit. */
const PART_CHARS = 400_000;

interface Spilled {
	/** `id` is a hash of the payload: two publishes under one uniqueId (two deployments) never mix their parts. */
	$spilled: { id: string; parts: number };
}

const isSpilled = (payload: unknown): payload is Spilled =>
	typeof payload === "object" && payload !== null && "$spilled" in payload;

/** The spill id an envelope's payload points at, if it was spilled: what a dead letter keeps alive (retention.ts). */
export function spillIdOf(envelope: unknown): string | undefined {
	if (
		typeof envelope !== "object" ||
		envelope === null ||
		!("payload" in envelope) ||
		!isSpilled(envelope.payload)
	)
		return undefined;
	const { id } = envelope.payload.$spilled;
	return typeof id === "string" ? id : undefined;
}

export async function spillIfLarge(
	db: D1Database,
	envelope: Envelope
): Promise<Envelope> {
	const body = JSON.stringify(envelope.payload);
	if (
		body.length * 3 < MAX_INLINE_BYTES ||
		new TextEncoder().encode(body).length < MAX_INLINE_BYTES
	)
		return envelope;
	const id = (await sha256Hex(body)).slice(0, 32);
	const parts = split(body);
	// The same payload published again writes the same rows.
	const insert = db.prepare(
		`INSERT OR REPLACE INTO spilled_payloads (spill_id, part, body, created_at) VALUES (?, ?, ?, ?)`
	);
	const now = Date.now();
	await db.batch(parts.map((part, i) => insert.bind(id, i, part, now)));
	return {
		...envelope,
		payload: { $spilled: { id, parts: parts.length } } satisfies Spilled,
	};
}

/** Parts of at most PART_CHARS, never cutting a surrogate pair (D1 would store each half as U+FFFD). */
export function split(text: string, partChars = PART_CHARS): string[] {
	const parts: string[] = [];
	for (let start = 0; start < text.length;) {
		let end = Math.min(text.length, start + partChars);
		const last = text.charCodeAt(end - 1);
		// Move the cut before the pair, or past it when the pair alone is the part.
		if (end < text.length && last >= 0xd800 && last <= 0xdbff)
			end += end - 1 > start ? -1 : 1;
		parts.push(text.slice(start, end));
		start = end;
	}
	return parts;
}

/** The payload as it was published, read back from D1 when it was spilled. */
export async function unspill(
	db: D1Database,
	envelope: Envelope
): Promise<Envelope> {
	if (!isSpilled(envelope.payload)) return envelope;
	const { results } = await db
		.prepare(
			`SELECT body FROM spilled_payloads WHERE spill_id = ? ORDER BY part`
		)
		.bind(envelope.payload.$spilled.id)
		.all<{ body: string }>();
	if (results.length !== envelope.payload.$spilled.parts)
		throw new Error(`spilled payload of ${envelope.uniqueId} is incomplete`);
	return {
		...envelope,
		payload: JSON.parse(results.map((r) => r.body).join("")),
	};
}
