/**
 * CORS for the API (SPEC §4, §6): the widget and the console call /v1 from customers' pages with
 * bearer tokens, never cookies. A site's routes answer the origins in its `allowedOrigins` (any
 * origin when the list is empty); an origin it does not list gets 403, WebSocket upgrades included,
 * since a socket is not protected by CORS at all. The deployment's own pages (/console, /chat, the
 * demo page) are always allowed. Admin and debug routes get no CORS headers: no page may call them.
 */
import { cors } from "hono/cors";
import { createMiddleware } from "hono/factory";
import { ApiError } from "./errors.ts";
import {
	AGENT_CHAIN_HEADER,
	AGENT_OFFSET_HEADER,
	VISITOR_CHAIN_HEADER,
	VISITOR_OFFSET_HEADER,
} from "./protocol/chat.ts";
import { getSiteConfig } from "./site-config-cache.ts";
import type { AppEnv } from "./auth.ts";

const SITE_PATH = /^\/v1\/sites\/([A-Za-z0-9_-]{1,64})(?:\/|$)/;
const NO_CORS_PATH = /^\/v1\/(?:admin|debug)(?:\/|$)/;

const policy = cors({
	origin: async (origin, c) => {
		const allowed = await allowedOrigin(
			c.env as Env,
			new URL(c.req.url),
			origin
		);
		if (allowed === undefined) throw notAllowed();
		return allowed;
	},
	allowMethods: ["GET", "POST", "PUT"],
	allowHeaders: [
		"Authorization",
		"Content-Type",
		VISITOR_OFFSET_HEADER,
		AGENT_OFFSET_HEADER,
		VISITOR_CHAIN_HEADER,
		AGENT_CHAIN_HEADER,
	],
	exposeHeaders: [VISITOR_OFFSET_HEADER, AGENT_OFFSET_HEADER, "Retry-After"],
	maxAge: 600,
	credentials: false,
});

const notAllowed = () =>
	new ApiError(
		403,
		"origin_not_allowed",
		"this site does not allow calls from this page's origin"
	);

/**
 * `*` when any page may call, the origin itself when the site lists it (or it is the deployment's
 * own), undefined when it may not.
 * The config comes from the per-isolate cache the routes read anyway.
 */
async function allowedOrigin(
	env: Env,
	url: URL,
	origin: string
): Promise<string | undefined> {
	if (origin === url.origin) return origin;
	const siteId = SITE_PATH.exec(url.pathname)?.[1];
	if (siteId === undefined) return "*";
	// An unknown site answers its 404 readably; the route says why.
	const allowed =
		(await getSiteConfig(env.SITE_CONFIG, siteId))?.allowedOrigins ?? [];
	if (allowed.length === 0) return "*";
	return allowed.includes(origin) ? origin : undefined;
}

export const apiCors = createMiddleware<AppEnv>(async (c, next) => {
	const origin = c.req.header("Origin");
	// Most calls (the SDK's, servers') carry no Origin: no URL to parse for them.
	if (origin === undefined) return next();
	const url = new URL(c.req.url);
	if (NO_CORS_PATH.test(url.pathname)) return next();
	// A socket's answer is handed on untouched (101 with its WebSocket): only the origin check applies to it.
	if (c.req.header("Upgrade")?.toLowerCase() === "websocket") {
		if ((await allowedOrigin(c.env, url, origin)) === undefined)
			throw notAllowed();
		return next();
	}
	return policy(c, next);
});
