import { Hono } from "hono";
import { requireAdmin, type AppEnv } from "../auth.ts";
import { ApiError } from "../errors.ts";
import { limitBody, parseJson } from "../http.ts";
import { CreateAgentSchema } from "../protocol/chat.ts";
import { SiteConfigSchema } from "../protocol/site-config.ts";
import { hashPassword } from "../security/passwords.ts";
import { getSiteConfig, putSiteConfig } from "../site-config-cache.ts";
import { SITE } from "./chats.ts";

export const admin = new Hono<AppEnv>()
	.use(requireAdmin)
	.put(SITE, limitBody(64 * 1024), async (c) => {
		const config = await parseJson(c, SiteConfigSchema);
		await putSiteConfig(c.env.SITE_CONFIG, c.req.param("siteId"), config);
		return c.json(config);
	})
	.get(SITE, async (c) => {
		const config = await getSiteConfig(c.env.SITE_CONFIG, c.req.param("siteId"));
		if (!config) throw new ApiError(404, "not_found", "no such site");
		return c.json(config);
	})
	.post(`${SITE}/agents`, limitBody(4096), async (c) => {
		const siteId = c.req.param("siteId");
		const input = await parseJson(c, CreateAgentSchema);
		if (!(await getSiteConfig(c.env.SITE_CONFIG, siteId))) throw new ApiError(404, "not_found", "no such site");
		const agent = { id: crypto.randomUUID(), email: input.email.toLowerCase(), name: input.name, maxChats: input.maxChats };
		const inserted = await c.env.DB.prepare(
			`INSERT INTO agents (id, site_id, email, name, password_hash, max_chats, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)
			 ON CONFLICT (site_id, email) DO NOTHING`,
		)
			.bind(agent.id, siteId, agent.email, agent.name, await hashPassword(input.password), agent.maxChats, Date.now())
			.run();
		if (inserted.meta.changes === 0) throw new ApiError(409, "conflict", "an agent with this email already exists");
		return c.json(agent, 201);
	});
