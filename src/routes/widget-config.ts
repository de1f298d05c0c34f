/**
 * The widget's part of a site's configuration (SPEC §4, §9): title, greeting, colour, prechat
 * fields, departments, whether to offer the offline form and the rating. No token: every page that
 * embeds the widget reads it, and it holds nothing else of the SiteConfig (integration secrets).
 */
import { Hono } from "hono";
import { ApiError } from "../errors.ts";
import { getSiteConfig } from "../site-config-cache.ts";
import { SITE } from "./chats.ts";
import type { AppEnv } from "../auth.ts";
import type { WidgetConfig } from "../protocol/site-config.ts";

export const widgetConfig = new Hono<AppEnv>().get(
	`${SITE}/widget-config`,
	async (c) => {
		const config = await getSiteConfig(
			c.env.SITE_CONFIG,
			c.req.param("siteId")
		);
		if (!config) throw new ApiError(404, "not_found", "no such site");
		// A minute in browser caches: a page view costs no request, and a change shows within a minute.
		c.header("Cache-Control", "public, max-age=60");
		return c.json(config.widget satisfies WidgetConfig);
	}
);
