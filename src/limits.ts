/** Per-name rates that need state across isolates (SPEC §6): counted by an AbuseCounter Durable Object per name; and the admission of sockets. */
import { OBJECT_NAME_HEADER } from "../durable-objects/room-contract.ts";
import { clientAddressKey } from "./client-address.ts";
import { ApiError, rateLimited } from "./errors.ts";
import { getSiteConfig } from "./site-config-cache.ts";
import type { AppEnv } from "./auth.ts";
import type { SiteConfig } from "./protocol/site-config.ts";
import type { Context } from "hono";

const MINUTE_MS = 60_000;

/** At most `perMinute` a minute for this name, or 429 with `Retry-After` (and the caller stores nothing). */
export async function withinRate(
	env: Env,
	name: string,
	perMinute: number,
	message: string
): Promise<void> {
	const taken = await env.ABUSE_COUNTER.getByName(name).hit(
		perMinute,
		MINUTE_MS
	);
	if (!taken.ok) throw rateLimited(message, taken.retryAfterMs / 1000);
}

/**
 * Before any WebSocket is handed to a Durable Object (SPEC §5, §6): an upgrade it is, to a site that
 * exists (a made-up one creates no object), within the address's upgrades a minute. Answers the
 * request with the given headers added, for the object to read; the token comes later, in the hello.
 */
export async function admitUpgrade(
	c: Context<AppEnv>,
	siteId: string
): Promise<{
	config: SiteConfig;
	forward: (headers: Record<string, string>) => Request;
}> {
	if (c.req.header("Upgrade")?.toLowerCase() !== "websocket")
		throw new ApiError(
			426,
			"upgrade_required",
			"this endpoint speaks WebSocket"
		);
	const config = await getSiteConfig(c.env.SITE_CONFIG, siteId);
	if (!config) throw new ApiError(404, "not_found", "no such site");
	await withinRate(
		c.env,
		`socket-upgrade:${siteId}:${clientAddressKey(c.req.raw)}`,
		config.limits.socketUpgradesPerMinutePerAddress,
		"too many connections from this address, try again shortly"
	);
	const forward = (added: Record<string, string>) => {
		const headers = new Headers(c.req.raw.headers);
		// Only the Worker names the object (room-contract.ts): a client's own value never gets through.
		headers.delete(OBJECT_NAME_HEADER);
		for (const [name, value] of Object.entries(added)) headers.set(name, value);
		return new Request(c.req.raw, { headers });
	};
	return { config, forward };
}
