/**
 * The widget's part of a site's configuration (SPEC §4, §9): title, greeting, colour, prechat
 * fields, departments, whether to offer the offline form and the rating. No token: every page that
 * embeds the widget reads it, and it holds nothing else of the SiteConfig (integration secrets).
 */
import { createRoute } from "@hono/zod-openapi";
import { ApiError } from "../errors.ts";
import { answer, errors, NO_TOKEN } from "../openapi-answers.ts";
import { Api } from "../openapi.ts";
import { WidgetConfigSchema } from "../protocol/site-config.ts";
import { getSiteConfig } from "../site-config-cache.ts";
import { SITE, SiteParams } from "./paths.ts";
import type { WidgetConfig } from "../protocol/site-config.ts";

export const widgetConfig = new Api().endpoint(
	createRoute({
		method: "get",
		path: `${SITE}/widget-config`,
		tags: ["Visitor"],
		summary: "The widget's part of the site's configuration",
		security: NO_TOKEN,
		request: { params: SiteParams },
		responses: {
			200: answer("The widget configuration", WidgetConfigSchema),
			...errors(404),
		},
	}),
	async (c) => {
		const config = await getSiteConfig(
			c.env.SITE_CONFIG,
			c.req.valid("param").siteId
		);
		if (!config) throw new ApiError(404, "not_found", "no such site");
		// A minute in browser caches: a page view costs no request, and a change shows within a minute.
		c.header("Cache-Control", "public, max-age=60");
		return c.json(config.widget satisfies WidgetConfig);
	}
);
