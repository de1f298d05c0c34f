import { sign, verify } from "hono/jwt";
import { z } from "zod";

const VISITOR_TOKEN_TTL_S = 24 * 3600;
const AGENT_TOKEN_TTL_S = 12 * 3600;

export const VisitorClaimsSchema = z.object({
	sub: z.string(),
	sid: z.string(),
	cid: z.string(),
	role: z.literal("visitor"),
	exp: z.number(),
});
export const AgentClaimsSchema = z.object({
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

/** The token's claims, or undefined when it is malformed, forged or expired. */
export async function verifyToken(secret: string, token: string): Promise<Claims | undefined> {
	try {
		const parsed = ClaimsSchema.safeParse(await verify(token, secret, "HS256"));
		return parsed.success ? parsed.data : undefined;
	} catch {
		return undefined;
	}
}
