/**
 * Fault injection for the chaos run (SPEC §11), local only: on when `wrangler dev` was given
 * `--var DEBUG_ROUTES:true` (scripts/start.mjs does so with DEBUG_ROUTES=1), never in wrangler.toml.
 * Otherwise every path here is a 404, as if it did not exist; when on, it takes the admin token.
 */
import { Hono } from "hono";
import { requireAdmin } from "../auth.ts";
import { ApiError } from "../errors.ts";
import { CHAT } from "./chats.ts";
import { chatRoom } from "./room.ts";
import type { AppEnv } from "../auth.ts";

declare global {
	namespace Cloudflare {
		interface Env {
			/** Not in wrangler.toml on purpose: only a local `--var` turns the debug routes on. */
			DEBUG_ROUTES?: string;
		}
	}
}

export const debug = new Hono<AppEnv>()
	.use(async (c, next) => {
		if (c.env.DEBUG_ROUTES !== "true")
			throw new ApiError(404, "not_found", "no such endpoint");
		await next();
	})
	.use(requireAdmin)
	.post(`${CHAT}/evict`, async (c) => {
		const { siteId, chatId } = c.req.param();
		// The abort resets the object, as an eviction does, and makes this very call fail: that is the point.
		await chatRoom(c.env, siteId, chatId)
			.abortForChaos()
			.catch(() => undefined);
		return c.body(null, 204);
	});
