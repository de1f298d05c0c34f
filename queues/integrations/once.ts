import { envSettings } from "../../src/env-settings.ts";
import { integrationUrlProblem } from "../../src/protocol/site-config.ts";
import { claim, CLAIM_MS, markDoneStatement, release } from "../deliveries.ts";
import { PermanentFailure } from "./types.ts";

/** Another copy of this delivery is being worked on right now: try again after it has finished or given up. */
export class InFlightElsewhere extends Error {}

/** The receiver said when to come back (429 or 503 with Retry-After). */
export class RetryLater extends Error {
	constructor(
		message: string,
		readonly afterSeconds: number
	) {
		super(message);
	}
}

const MARK_DONE_TRIES = 6;

/** Runs an outside effect at most once per key (SPEC §8); a failure gives the key back and is rethrown for a retry. */
export async function once(
	db: D1Database,
	key: string,
	effect: (deliveryId: string) => Promise<void>
): Promise<void> {
	const claimed = await claim(db, key);
	if (!claimed.owned) {
		if (claimed.done) return;
		throw new InFlightElsewhere(
			`${key} is being delivered by another consumer`
		);
	}
	try {
		await effect(claimed.deliveryId);
	} catch (error) {
		await release(
			db,
			key,
			claimed.until,
			error instanceof Error ? error.message : String(error)
		);
		throw error;
	}
	// The effect happened: failing to record it now would let it happen again once the claim runs out.
	for (let attempt = 1; ; attempt++) {
		try {
			await markDoneStatement(db, key, claimed.deliveryId).run();
			return;
		} catch (error) {
			if (attempt >= MARK_DONE_TRIES) {
				console.error(
					`${key}: done, but not recorded; it may happen again once its claim runs out`,
					error
				);
				throw error;
			}
			// 0.2, 0.4, … 3.2 s: about 6 s in all, well inside the claim.
			await new Promise((r) => setTimeout(r, 100 * 2 ** attempt));
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

/** Enough of an error answer to say what went wrong; the rest is never read. */
const MAX_ERROR_BODY_BYTES = 64 * 1024;

/**
 * An outside HTTP call that counts as done only on a 2xx within the timeout. Errors name the origin
 * only: webhook URLs often carry their secret in the path, and these messages are logged and stored.
 * A URL that integrations may not call (SPEC §6; a configuration saved before the rule) is
 * dead-lettered. Redirects are not followed: the request carries the site's credentials, which
 * must not go to wherever a receiver points; a 3xx is a failure, retried like any other.
 */
export async function postJson(url: string, init: Post): Promise<void> {
	const problem = integrationUrlProblem(url);
	if (problem)
		throw new PermanentFailure(
			`the integration URL (${originOf(url)}) ${problem}`
		);
	const origin = new URL(url).origin;
	const response = await fetch(url, {
		method: "POST",
		headers: { "Content-Type": "application/json", ...init.headers },
		body: init.body,
		redirect: "manual",
		signal: AbortSignal.timeout(init.timeoutMs),
	});
	// Nothing in a success or redirect answer is used, so none of it is read. After a 2xx the effect
	// has happened: failing to let go of its body must not turn it into a failure (and a repeat).
	const discard = () => response.body?.cancel().catch(() => {});
	if (response.ok) {
		await discard();
		return;
	}
	if (response.status >= 300 && response.status < 400) {
		await discard();
		const location = response.headers.get("Location");
		const target = location === null ? "" : ` to ${originOf(location, url)}`;
		throw new Error(
			`POST ${origin} answered ${response.status}, a redirect${target}; redirects are not followed`
		);
	}
	const detail = (
		await readCapped(response, MAX_ERROR_BODY_BYTES).catch(() => "")
	)
		.slice(0, 200)
		.replace(/\s+/g, " ");
	const message = `POST ${origin} answered ${response.status}${detail ? `: ${detail}` : ""}`;
	if (init.permanent?.includes(response.status))
		throw new PermanentFailure(message);
	const retryAfter = retryAfterSeconds(response.headers.get("Retry-After"));
	if (retryAfter !== undefined) throw new RetryLater(message, retryAfter);
	throw new Error(message);
}

/** `https://host:port`, or the scheme alone for URLs without an origin (`file:`, `javascript:`). */
function originOf(url: string, base?: string): string {
	try {
		const parsed = new URL(url, base);
		return parsed.origin === "null" ? parsed.protocol : parsed.origin;
	} catch {
		return "an unparsable URL";
	}
}

/** At most `maxBytes` of the body as text; the rest is left unread and the stream cancelled. */
async function readCapped(
	response: Response,
	maxBytes: number
): Promise<string> {
	if (!response.body) return "";
	const reader = response.body.getReader();
	const chunks: Uint8Array[] = [];
	let size = 0;
	try {
		while (size < maxBytes) {
			const { done, value } = await reader.read();
			if (done) break;
			chunks.push(value);
			size += value.byteLength;
		}
	} finally {
		await reader.cancel().catch(() => {});
	}
	const bytes = new Uint8Array(Math.min(size, maxBytes));
	let at = 0;
	for (const chunk of chunks) {
		bytes.set(chunk.subarray(0, bytes.length - at), at);
		at += Math.min(chunk.byteLength, bytes.length - at);
	}
	return new TextDecoder().decode(bytes);
}

/** Retry-After is seconds or an HTTP date. */
function retryAfterSeconds(header: string | null): number | undefined {
	if (!header) return undefined;
	const seconds = /^\d+$/.test(header.trim())
		? Number(header)
		: (Date.parse(header) - Date.now()) / 1000;
	return Number.isFinite(seconds) ? Math.max(0, Math.ceil(seconds)) : undefined;
}

/**
 * What a CRM API answers to a request it will never accept (bad fields, too large). Not 401, 403 or
 * 404: an expired token or a mistyped base URL is mended in the site's configuration, and a retry then works.
 * Webhooks retry every non-2xx (SPEC §8).
 */
export const REJECTED_REQUEST = [400, 413, 422] as const;

/** At most half the claim, so a call that hangs never outlives the claim it runs under. */
export const timeoutOf = (env: Env) =>
	Math.min(envSettings(env).DELIVERY_TIMEOUT_MS, CLAIM_MS / 2);

/** Gives up on a promise after `ms` (the send_email binding takes no AbortSignal). */
export function withTimeout<T>(
	promise: Promise<T>,
	ms: number,
	what: string
): Promise<T> {
	let timer: ReturnType<typeof setTimeout> | undefined;
	const timeout = new Promise<never>((_, reject) => {
		timer = setTimeout(
			() => reject(new Error(`${what} took longer than ${ms} ms`)),
			ms
		);
	});
	return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
