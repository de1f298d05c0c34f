/**
 * Revoked agent tokens (SPEC §6). Each agent token carries a version (`tv`); disabling an agent or
 * resetting its password raises the agent's version in D1, and the lowest valid version of every
 * agent whose version was ever raised is kept in KV beside the site configuration, under
 * `agent-tv:<siteId>`, as `{agentId: minimum}`. Rooms and the Worker check a token against it
 * without D1; each isolate keeps what it read for 30 s, like the site configuration.
 */
import { z } from "zod";
import type { Claims } from "./tokens.ts";

const TTL_MS = 30_000;
/** Bounded. Asked only for the site of a token that verified, so misses are kept too. */
const MAX_ENTRIES = 1000;
const MinimumsSchema = z.record(z.string(), z.number().int().nonnegative());
type TokenMinimums = z.infer<typeof MinimumsSchema>;

const cache = new Map<string, { minimums: TokenMinimums; until: number }>();
const key = (siteId: string) => `agent-tv:${siteId}`;

/** Whether these claims were revoked: an agent token below its agent's lowest valid version. Visitor tokens are never. */
export async function isRevoked(
	env: Pick<Env, "SITE_CONFIG">,
	claims: Pick<Claims, "role" | "sid" | "sub"> & { tv?: number }
): Promise<boolean> {
	if (claims.role !== "agent" || claims.tv === undefined) return false;
	const minimum = (await minimumTokenVersions(env.SITE_CONFIG, claims.sid))[
		claims.sub
	];
	return minimum !== undefined && claims.tv < minimum;
}

async function minimumTokenVersions(
	kv: KVNamespace,
	siteId: string
): Promise<TokenMinimums> {
	const hit = cache.get(siteId);
	if (hit && hit.until > Date.now()) return hit.minimums;
	const stored = await kv.get(key(siteId), "json");
	// Absent means nothing was ever revoked. Only putMinimumTokenVersions writes it, so a value that
	// does not parse is a bug: logged, and read as absent rather than locking every agent out.
	const parsed = MinimumsSchema.safeParse(stored ?? {});
	if (!parsed.success)
		console.error(`KV ${key(siteId)} is malformed:`, parsed.error.message);
	const minimums = parsed.success ? parsed.data : {};
	remember(siteId, minimums);
	return minimums;
}

function remember(siteId: string, minimums: TokenMinimums): void {
	cache.delete(siteId);
	if (cache.size >= MAX_ENTRIES) cache.delete(cache.keys().next().value!);
	cache.set(siteId, { minimums, until: Date.now() + TTL_MS });
}

/**
 * Stores a site's minimums (read from D1, the system of record, after the change) and refreshes this
 * isolate's copy, so the revocation is immediate here and reaches other isolates within 30 s plus
 * KV's own propagation.
 */
export async function putMinimumTokenVersions(
	kv: KVNamespace,
	siteId: string,
	minimums: TokenMinimums
): Promise<void> {
	await kv.put(key(siteId), JSON.stringify(minimums));
	remember(siteId, minimums);
}
