import { z } from "zod";
import { AgentRoleSchema } from "../protocol/chat.ts";
import { base64url, fromBase64url, utf8 } from "./encoding.ts";
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
	exp: z.number(),
});
const ClaimsSchema = z.discriminatedUnion("role", [
	VisitorClaimsSchema,
	AgentClaimsSchema,
]);
export type Claims = z.infer<typeof ClaimsSchema>;

const now = () => Math.floor(Date.now() / 1000);

/**
 * An HS256 JWT under the current keys, with their kid in the header so that the keys can rotate.
 * Signed here rather than with hono/jwt's sign, which cannot put a kid beside a raw secret and
 * imports the key on every call.
 */
async function signToken(
	keys: KeyRing,
	payload: Record<string, string | number>
): Promise<string> {
	const { kid, tokenSecret } = keys.current;
	const unsigned = `${encodeSegment({ alg: "HS256", typ: "JWT", kid })}.${encodeSegment(payload)}`;
	return `${unsigned}.${base64url(await crypto.subtle.sign("HMAC", await hmacKey(tokenSecret), utf8.encode(unsigned)))}`;
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
		exp: now() + AGENT_TOKEN_TTL_S,
	});
}

/**
 * The token's claims, or undefined when it is malformed, forged, expired or under a kid that is not
 * in the key ring. A token without a kid was made under KEY_ID. Verified here rather than with
 * hono/jwt's verify, which imports the key on every call: this runs on every chat request.
 * Revocation (agent token versions) is checked by the caller: see revocation.ts.
 */
export async function verifyToken(
	keys: KeyRing,
	token: string
): Promise<Claims | undefined> {
	const [header, payload, signature, extra] = token.split(".");
	if (!header || !payload || !signature || extra !== undefined)
		return undefined;
	try {
		const { alg, kid } = JSON.parse(decodeSegment(header)) as {
			alg?: unknown;
			kid?: unknown;
		};
		if (alg !== "HS256" || (kid !== undefined && typeof kid !== "string"))
			return undefined;
		const secret = keysOf(keys, kid)?.tokenSecret;
		if (!secret) return undefined;
		const valid = await crypto.subtle.verify(
			"HMAC",
			await hmacKey(secret),
			fromBase64url(signature),
			utf8.encode(`${header}.${payload}`)
		);
		if (!valid) return undefined;
		const claims = ClaimsSchema.safeParse(JSON.parse(decodeSegment(payload)));
		return claims.success && claims.data.exp > now() ? claims.data : undefined;
	} catch {
		return undefined;
	}
}

const encodeSegment = (value: unknown) =>
	base64url(utf8.encode(JSON.stringify(value)));
const decodeSegment = (segment: string) =>
	new TextDecoder().decode(fromBase64url(segment));
