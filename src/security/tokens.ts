import { decode, sign, verify } from "hono/jwt";
import { z } from "zod";
import { AgentRoleSchema } from "../protocol/chat.ts";
import { base64url, utf8 } from "./encoding.ts";
import { hmacKey } from "./hmac.ts";
import { keysOf } from "./keys.ts";
import type { AgentRole } from "../protocol/chat.ts";
import type { KeyRing } from "./keys.ts";

const VISITOR_TOKEN_TTL_S = 24 * 3600;
const AGENT_TOKEN_TTL_S = 12 * 3600;

const VisitorClaimsSchema = z.object({
	sub: z.string(),
	sid: z.string(),
	cid: z.string(),
	role: z.literal("visitor"),
	exp: z.number(),
});
/**
 * Everything the rooms and the dispatcher need about an agent, so they never read D1 (SPEC §6).
 * Defaults cover tokens issued before these claims existed: a plain agent at version 0, which any
 * revocation (SPEC §6) puts below the minimum.
 */
const AgentClaimsSchema = z.object({
	sub: z.string(),
	sid: z.string(),
	role: z.literal("agent"),
	name: z.string(),
	agentRole: z._default(AgentRoleSchema, "agent"),
	maxChats: z.number().int().positive().default(5),
	tv: z.number().int().nonnegative().default(0),
	/** The token's own id: signing out revokes this one token (revocation.ts). Absent from tokens made before sign-out existed. */
	jti: z.string().max(64).optional(),
	exp: z.number(),
});
const ClaimsSchema = z.discriminatedUnion("role", [
	VisitorClaimsSchema,
	AgentClaimsSchema,
]);
export type Claims = z.infer<typeof ClaimsSchema>;

/** The kid picks the key; hono/jwt's verify checks the rest of the header. */
const HeaderSchema = z.object({ kid: z.string().optional() });

const now = () => Math.floor(Date.now() / 1000);

/**
 * An HS256 JWT under the current keys, with their kid in the header so that the keys can rotate.
 * hono/jwt's sign writes a kid only beside a JWK, which it imports on each call: fine here, where
 * a chat starts or an agent logs in, unlike verification (below), which runs on every chat request.
 */
function signToken(
	keys: KeyRing,
	payload: Record<string, string | number>
): Promise<string> {
	const { kid, tokenSecret } = keys.current;
	return sign(payload, {
		kty: "oct",
		k: base64url(utf8.encode(tokenSecret)),
		alg: "HS256",
		kid,
	});
}

export function signVisitorToken(
	keys: KeyRing,
	c: { visitorId: string; siteId: string; chatId: string }
) {
	return signToken(keys, {
		sub: c.visitorId,
		sid: c.siteId,
		cid: c.chatId,
		role: "visitor",
		exp: now() + VISITOR_TOKEN_TTL_S,
	});
}

export function signAgentToken(
	keys: KeyRing,
	a: {
		agentId: string;
		siteId: string;
		name: string;
		agentRole: AgentRole;
		maxChats: number;
		tokenVersion: number;
	}
) {
	return signToken(keys, {
		sub: a.agentId,
		sid: a.siteId,
		role: "agent",
		name: a.name,
		agentRole: a.agentRole,
		maxChats: a.maxChats,
		tv: a.tokenVersion,
		jti: base64url(crypto.getRandomValues(new Uint8Array(16))),
		exp: now() + AGENT_TOKEN_TTL_S,
	});
}

/** Tokens that verified, per isolate and key ring; the oldest goes first beyond this many. */
export const VERIFIED_TOKENS_KEPT = 1000;

/**
 * Per key ring, so that a ring that changes (a deploy, a test's other keys) verifies afresh. Holds
 * what the signature and schema say, which never change for a token; exp is checked on every use,
 * and revocation is the caller's, every time (revocation.ts).
 */
const verified = new WeakMap<KeyRing, Map<string, Claims>>();

/**
 * The token's claims, or undefined when it is malformed, forged, expired or under a kid that is not
 * in the key ring. A token without a kid was made under KEY_ID. Every chat request asks, mostly with
 * a token it asked about before: a token verified once is remembered (VERIFIED_TOKENS_KEPT), which
 * spares the JWT decoding, the HMAC and the schema on the send path.
 * Revocation (agent token versions) is checked by the caller: see revocation.ts.
 */
export async function verifyToken(
	keys: KeyRing,
	token: string
): Promise<Claims | undefined> {
	let kept = verified.get(keys);
	if (!kept) verified.set(keys, (kept = new Map()));
	const hit = kept.get(token);
	// As hono/jwt's verify: expired once exp is not after now.
	if (hit) return hit.exp > now() ? hit : undefined;
	const claims = await verifyUncached(keys, token);
	if (claims) {
		if (kept.size >= VERIFIED_TOKENS_KEPT)
			kept.delete(kept.keys().next().value!);
		kept.set(token, claims);
	}
	return claims;
}

/** hono/jwt's verify takes the CryptoKey that hmacKey imported once per isolate. */
async function verifyUncached(
	keys: KeyRing,
	token: string
): Promise<Claims | undefined> {
	try {
		const header = HeaderSchema.safeParse(decode(token).header);
		if (!header.success) return undefined;
		const secret = keysOf(keys, header.data.kid)?.tokenSecret;
		if (!secret) return undefined;
		// Checks the header (HS256 only), the signature and exp.
		const payload = await verify(token, await hmacKey(secret), "HS256");
		const claims = ClaimsSchema.safeParse(payload);
		return claims.success ? claims.data : undefined;
	} catch {
		return undefined;
	}
}
