import { sign } from "hono/jwt";
import { z } from "zod";
import { fromBase64url, utf8 } from "./encoding.ts";
import { hmacKey } from "./hmac.ts";

const VISITOR_TOKEN_TTL_S = 24 * 3600;
const AGENT_TOKEN_TTL_S = 12 * 3600;

const VisitorClaimsSchema = z.object({
	sub: z.string(),
	sid: z.string(),
	cid: z.string(),
	role: z.literal("visitor"),
	exp: z.number(),
});
const AgentClaimsSchema = z.object({
	sub: z.string(),
	sid: z.string(),
	role: z.literal("agent"),
	name: z.string(),
	exp: z.number(),
});
const ClaimsSchema = z.discriminatedUnion("role", [VisitorClaimsSchema, AgentClaimsSchema]);
export type Claims = z.infer<typeof ClaimsSchema>;

const now = () => Math.floor(Date.now() / 1000);

export function signVisitorToken(secret: string, c: { visitorId: string; siteId: string; chatId: string }) {
	return sign({ sub: c.visitorId, sid: c.siteId, cid: c.chatId, role: "visitor", exp: now() + VISITOR_TOKEN_TTL_S }, secret, "HS256");
}

export function signAgentToken(secret: string, a: { agentId: string; siteId: string; name: string }) {
	return sign({ sub: a.agentId, sid: a.siteId, role: "agent", name: a.name, exp: now() + AGENT_TOKEN_TTL_S }, secret, "HS256");
}

/**
 * The token's claims, or undefined when it is malformed, forged or expired. Verified here rather than
 * with hono/jwt's verify, which imports the key on every call: this runs on every chat request.
 */
export async function verifyToken(secret: string, token: string): Promise<Claims | undefined> {
	const [header, payload, signature, extra] = token.split(".");
	if (!header || !payload || !signature || extra !== undefined) return undefined;
	try {
		const { alg } = JSON.parse(decodeSegment(header)) as { alg?: unknown };
		if (alg !== "HS256") return undefined;
		const valid = await crypto.subtle.verify("HMAC", await hmacKey(secret), fromBase64url(signature), utf8.encode(`${header}.${payload}`));
		if (!valid) return undefined;
		const claims = ClaimsSchema.safeParse(JSON.parse(decodeSegment(payload)));
		return claims.success && claims.data.exp > now() ? claims.data : undefined;
	} catch {
		return undefined;
	}
}

const decodeSegment = (segment: string) => new TextDecoder().decode(fromBase64url(segment));
