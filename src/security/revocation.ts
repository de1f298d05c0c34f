/**
 * Revoked agent tokens (SPEC §6). Each agent token carries a version (`tv`); disabling an agent,
 * resetting its password or changing its role or capacity raises the agent's version in D1, and the
 * lowest valid version of every agent whose version was ever raised is kept in KV beside the site
 * configuration, under `agent-tv:<siteId>`, as `{agentId: minimum}`. Rooms and the Worker check a
 * token against it without D1; each isolate keeps what it read for 30 s, like the site configuration.
 *
 * Signing out (`DELETE …/agent-sessions/current`) revokes that one token, not the agent's others:
 * tokens carry an id (`jti`), and a signed-out one is kept in KV under
 * `agent-signout:<siteId>:<jti>` until the token expires anyway (KV drops it then). One key per
 * token, so two sign-outs never overwrite each other; each isolate remembers an answer for 30 s.
 */
import { z } from "zod";
import { KvCache } from "../kv-cache.ts";
import type { Claims } from "./tokens.ts";

const MinimumsSchema = z.record(z.string(), z.number().int().nonnegative());
type TokenMinimums = z.infer<typeof MinimumsSchema>;

/** 30 s, 1000 sites. Asked only for the site of a token that verified, so misses are kept too. */
const cache = new KvCache<TokenMinimums>("agent-tv:", 30_000, 1000);
/** 30 s, 10,000 tokens (`<siteId>:<jti>`): whether each was signed out. Misses are kept too. */
const signedOut = new KvCache<boolean>("agent-signout:", 30_000, 10_000);

/**
 * Whether these claims were revoked: an agent token below its agent's lowest valid version, or one
 * signed out. Visitor tokens are never.
 */
export async function isRevoked(
	env: Pick<Env, "SITE_CONFIG">,
	claims: Pick<Claims, "role" | "sid" | "sub"> & { tv?: number; jti?: string }
): Promise<boolean> {
	if (claims.role !== "agent") return false;
	if (
		claims.jti !== undefined &&
		(await isSignedOut(env, claims.sid, claims.jti))
	)
		return true;
	if (claims.tv === undefined) return false;
	const minimum = (await minimumTokenVersions(env.SITE_CONFIG, claims.sid))[
		claims.sub
	];
	return minimum !== undefined && claims.tv < minimum;
}

async function isSignedOut(
	env: Pick<Env, "SITE_CONFIG">,
	siteId: string,
	jti: string
): Promise<boolean> {
	const id = `${siteId}:${jti}`;
	const hit = signedOut.get(id);
	if (hit !== undefined) return hit;
	const out = (await env.SITE_CONFIG.get(signedOut.key(id))) !== null;
	signedOut.set(id, out);
	return out;
}

/** Signs the token out (SPEC §7): kept until it expires (epoch seconds), at once in this isolate, within 30 s in the others. */
export async function revokeSession(
	env: Pick<Env, "SITE_CONFIG">,
	siteId: string,
	jti: string,
	expiresAt: number
): Promise<void> {
	const id = `${siteId}:${jti}`;
	// KV keeps a key at least 60 s.
	const expiration = Math.max(expiresAt, Math.ceil(Date.now() / 1000) + 60);
	await env.SITE_CONFIG.put(signedOut.key(id), "1", { expiration });
	signedOut.set(id, true);
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
