/**
 * Fault injection for the chaos run (SPEC §11), local only: on when `wrangler dev` was given
 * `--var DEBUG_ROUTES:true` (scripts/start.mjs does so with DEBUG_ROUTES=1), never in wrangler.toml.
 * Rooms and the site dispatcher can be reset as by an eviction. Otherwise every path here is a 404, as if it did not exist; when on, it takes the admin token.
 */
import { createRoute } from "@hono/zod-openapi";
import { createMiddleware } from "hono/factory";
import { requireAdmin } from "../auth.ts";
import { ApiError } from "../errors.ts";
import { ADMIN, errors } from "../openapi-answers.ts";
import { Api } from "../openapi.ts";
import { CHAT, ChatParams, SITE, SiteParams } from "./paths.ts";
import { chatRoom, siteDispatcher } from "./room.ts";
import type { AppEnv } from "../auth.ts";

declare global {
	namespace Cloudflare {
		interface Env {
			/** Not in wrangler.toml on purpose: only a local `--var` turns the debug routes on. */
			DEBUG_ROUTES?: string;
		}
	}
}

const debugOnly = createMiddleware<AppEnv>(async (c, next) => {
	if (c.env.DEBUG_ROUTES !== "true")
		throw new ApiError(404, "not_found", "no such endpoint");
	await next();
});

export const debug = new Api()
	.endpoint(
		createRoute({
			method: "post",
			path: `${CHAT}/evict`,
			tags: ["Debug"],
			summary:
				"Reset the chat's room, as an eviction does (local chaos runs only)",
			description:
				"A 404 unless `wrangler dev` was given `--var DEBUG_ROUTES:true`.",
			security: ADMIN,
			middleware: [debugOnly, requireAdmin],
			request: { params: ChatParams },
			responses: {
				204: { description: "The room was reset" },
				...errors(401, 404),
			},
		}),
		async (c) => {
			const { siteId, chatId } = c.req.valid("param");
			// The abort resets the object, as an eviction does, and makes this very call fail: that is the point.
			await chatRoom(c.env, siteId, chatId)
				.abortForChaos()
				.catch(() => undefined);
			return c.body(null, 204);
		}
	)
	.endpoint(
		createRoute({
			method: "post",
			path: `${SITE}/dispatcher/evict`,
			tags: ["Debug"],
			summary:
				"Reset the site's dispatcher, as an eviction does (local chaos runs only)",
			description:
				"A 404 unless `wrangler dev` was given `--var DEBUG_ROUTES:true`. In memory mode the dispatcher forgets everything and is rebuilt from its clients (SPEC §7); in durable mode it reloads its storage. Either way every console socket on it closes.",
			security: ADMIN,
			middleware: [debugOnly, requireAdmin],
			request: { params: SiteParams },
			responses: {
				204: { description: "The dispatcher was reset" },
				...errors(401, 404),
			},
		}),
		async (c) => {
			const { siteId } = c.req.valid("param");
			// As for a room: the abort makes this very call fail, which is expected.
			await siteDispatcher(c.env, siteId)
				.abortForChaos()
				.catch(() => undefined);
			return c.body(null, 204);
		}
	);
