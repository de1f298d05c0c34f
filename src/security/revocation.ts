/**
 * Revoked agent tokens (SPEC §6). Each agent token carries a version (`tv`); disabling an agent or
 * resetting its password raises the agent's version in D1, and the lowest valid version of every
 * agent whose version was ever raised is kept in KV beside the site configuration, under
 * `agent-tv:<siteId>`, as `{agentId: minimum}`. Rooms and the Worker check a token against it
 * without D1; each isolate keeps what it read for 30 s, like the site configuration.
 */
import { z } from "zod";
import { KvCache } from "../kv-cache.ts";
import type { Claims } from "./tokens.ts";

const MinimumsSchema = z.record(z.string(), z.number().int().nonnegative());
type TokenMinimums = z.infer<typeof MinimumsSchema>;

/** 30 s, 1000 sites. Asked only for the site of a token that verified, so misses are kept too. */
const cache = new KvCache<TokenMinimums>("agent-tv:", 30_000, 1000);

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
	if (hit) return hit;
	const stored = await kv.get(cache.key(siteId), "json");
	// Absent means nothing was ever revoked. Only putMinimumTokenVersions writes it, so a value that
	// does not parse is a bug: logged, and read as absent rather than locking every agent out.
	const parsed = MinimumsSchema.safeParse(stored ?? {});
	if (!parsed.success)
		console.error(
			`KV ${cache.key(siteId)} is malformed:`,
			parsed.error.message
		);
	const minimums = parsed.success ? parsed.data : {};
	cache.set(siteId, minimums);
	return minimums;
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
	await cache.put(kv, siteId, minimums);
}
