import { createMiddleware } from "hono/factory";
import { tokenMisfit } from "../durable-objects/room-contract.ts";
import { ApiError } from "./errors.ts";
import { keyRing } from "./security/keys.ts";
import { isRevoked } from "./security/revocation.ts";
import { verifyToken } from "./security/tokens.ts";
import type { Claims } from "./security/tokens.ts";

export type AppEnv = { Bindings: Env; Variables: { claims: Claims } };

function bearer(header: string | undefined): string {
	const match = header?.match(/^Bearer\s+(\S+)$/i);
	if (!match?.[1])
		throw new ApiError(401, "unauthorized", "missing bearer token");
	return match[1];
}

/** A visitor or agent token, not revoked, whose site (and, for a visitor, chat) is the one in the path. */
export const requireToken = createMiddleware<AppEnv>(async (c, next) => {
	const claims = await verifyToken(
		keyRing(c.env),
		bearer(c.req.header("Authorization"))
	);
	if (!claims)
		throw new ApiError(401, "unauthorized", "invalid or expired token");
	const { siteId, chatId } = c.req.param() as {
		siteId?: string;
		chatId?: string;
	};
	const misfit = tokenMisfit(claims, siteId, chatId);
	if (misfit === "site")
		throw new ApiError(403, "forbidden", "token is for another site");
	if (await isRevoked(c.env, claims))
		throw new ApiError(401, "unauthorized", "token revoked");
	if (misfit === "chat")
		throw new ApiError(403, "forbidden", "token is for another chat");
	c.set("claims", claims);
	await next();
});

export const requireAdmin = createMiddleware<AppEnv>(async (c, next) => {
	const token = bearer(c.req.header("Authorization"));
	if (!(await constantTimeEqual(token, c.env.ADMIN_TOKEN)))
		throw new ApiError(401, "unauthorized", "invalid admin token");
	await next();
});

async function constantTimeEqual(a: string, b: string): Promise<boolean> {
	const enc = new TextEncoder();
	const [x, y] = await Promise.all([
		crypto.subtle.digest("SHA-256", enc.encode(a)),
		crypto.subtle.digest("SHA-256", enc.encode(b)),
	]);
	return crypto.subtle.timingSafeEqual(x, y);
}
