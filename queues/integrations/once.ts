import { claim, markDoneStatement, release } from "../deliveries.ts";
import { PermanentFailure } from "./types.ts";

/** Another copy of this delivery is being worked on right now: try again after it has finished or given up. */
export class InFlightElsewhere extends Error {}

/** The receiver said when to come back (429 or 503 with Retry-After). */
export class RetryLater extends Error {
	constructor(
		message: string,
		readonly afterSeconds: number,
	) {
		super(message);
	}
}

const MARK_DONE_TRIES = 3;

/** Runs an outside effect at most once per key (SPEC §8); a failure gives the key back and is rethrown for a retry. */
export async function once(db: D1Database, key: string, effect: (deliveryId: string) => Promise<void>): Promise<void> {
	const claimed = await claim(db, key);
	if (!claimed.owned) {
		if (claimed.done) return;
		throw new InFlightElsewhere(`${key} is being delivered by another consumer`);
	}
	try {
		await effect(claimed.deliveryId);
	} catch (error) {
		await release(db, key, error instanceof Error ? error.message : String(error));
		throw error;
	}
	// The effect happened: failing to record it now would let it happen again once the claim runs out.
	for (let attempt = 1; ; attempt++) {
		try {
			await markDoneStatement(db, key, claimed.deliveryId).run();
			return;
		} catch (error) {
			if (attempt >= MARK_DONE_TRIES) throw error;
			await new Promise((r) => setTimeout(r, 100 * attempt));
		}
	}
}

interface Post {
	headers: Record<string, string>;
	body: string;
	timeoutMs: number;
	/** Answers that no retry can change (a request the API rejects as malformed): dead-lettered at once. */
	permanent?: readonly number[];
}

/**
 * An outside HTTP call that counts as done only on a 2xx within the timeout. Errors name the origin
 * only: webhook URLs often carry their secret in the path, and these messages are logged and stored.
 */
export async function postJson(url: string, init: Post): Promise<Response> {
	const response = await fetch(url, {
		method: "POST",
		headers: { "Content-Type": "application/json", ...init.headers },
		body: init.body,
		signal: AbortSignal.timeout(init.timeoutMs),
	});
	if (response.ok) return response;
	const detail = (await response.text().catch(() => "")).slice(0, 200).replace(/\s+/g, " ");
	const message = `POST ${new URL(url).origin} answered ${response.status}${detail ? `: ${detail}` : ""}`;
	if (init.permanent?.includes(response.status)) throw new PermanentFailure(message);
	const retryAfter = retryAfterSeconds(response.headers.get("Retry-After"));
	if (retryAfter !== undefined) throw new RetryLater(message, retryAfter);
	throw new Error(message);
}

/** Retry-After is seconds or an HTTP date. */
function retryAfterSeconds(header: string | null): number | undefined {
	if (!header) return undefined;
	const seconds = /^\d+$/.test(header.trim()) ? Number(header) : (Date.parse(header) - Date.now()) / 1000;
	return Number.isFinite(seconds) ? Math.max(0, Math.ceil(seconds)) : undefined;
}

/**
 * What a CRM API answers to a request it will never accept (bad fields, no such resource). Not 401
 * or 403: an expired token is mended by updating the site's configuration, and the retry then works.
 * Webhooks retry every non-2xx (SPEC §8).
 */
export const REJECTED_REQUEST = [400, 404, 405, 413, 422] as const;

export const timeoutOf = (env: Env) => Number(env.DELIVERY_TIMEOUT_MS) || 10_000;
