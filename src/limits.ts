/** Per-name rates that need state across isolates (SPEC §6): counted by an AbuseCounter Durable Object per name. */
import { rateLimited } from "./errors.ts";

const MINUTE_MS = 60_000;

/** At most `perMinute` a minute for this name, or 429 with `Retry-After` (and the caller stores nothing). */
export async function withinRate(env: Env, name: string, perMinute: number, message: string): Promise<void> {
	const taken = await env.ABUSE_COUNTER.getByName(name).hit(perMinute, MINUTE_MS);
	if (!taken.ok) throw rateLimited(message, taken.retryAfterMs / 1000);
}
