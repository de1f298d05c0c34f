import { createRoute } from "@hono/zod-openapi";
import { requireAdmin } from "../auth.ts";
import { ApiError } from "../errors.ts";
import { limitBody } from "../http.ts";
import { ADMIN, answer, errors } from "../openapi-answers.ts";
import { Api, jsonBody, pathParams } from "../openapi.ts";
import { AdminAgentAnswerSchema } from "../protocol/answers.ts";
import { CreateAgentSchema, UpdateAgentSchema } from "../protocol/chat.ts";
import { SiteConfigSchema } from "../protocol/site-config.ts";
import { hashPassword } from "../security/passwords.ts";
import { putMinimumTokenVersions } from "../security/revocation.ts";
import { getSiteConfig, putSiteConfig } from "../site-config-cache.ts";
import { SITE, SiteParams } from "./paths.ts";
import { siteDispatcher } from "./room.ts";
import type { AdminAgent, AgentRole } from "../protocol/chat.ts";

interface AgentRow {
	id: string;
	email: string;
	name: string;
	role: AgentRole;
	max_chats: number;
	disabled: number;
	token_version: number;
}

const AGENT_COLUMNS =
	"id, email, name, role, max_chats, disabled, token_version";

const adminAgent = (row: AgentRow): AdminAgent => ({
	id: row.id,
	email: row.email,
	name: row.name,
	role: row.role,
	maxChats: row.max_chats,
	disabled: row.disabled === 1,
});

const adminCall = { tags: ["Admin"], security: ADMIN };
const siteConfig = answer("The site's configuration", SiteConfigSchema);

/** Every admin path takes the admin token, unknown ones too (401 before 404). */
export const admin = new Api();
admin.use(requireAdmin);
admin
	.endpoint(
		createRoute({
			...adminCall,
			method: "put",
			path: SITE,
			summary: "Create or replace a site's configuration",
			middleware: [limitBody(64 * 1024)],
			request: { params: SiteParams, body: jsonBody(SiteConfigSchema) },
			responses: { 200: siteConfig, ...errors(400, 401, 413) },
		}),
		async (c) => {
			const config = c.req.valid("json");
			await putSiteConfig(
				c.env.SITE_CONFIG,
				c.req.valid("param").siteId,
				config
			);
			return c.json(config);
		}
	)
	.endpoint(
		createRoute({
			...adminCall,
			method: "get",
			path: SITE,
			summary: "Read a site's configuration",
			request: { params: SiteParams },
			responses: { 200: siteConfig, ...errors(401, 404) },
		}),
		async (c) => {
			const config = await getSiteConfig(
				c.env.SITE_CONFIG,
				c.req.valid("param").siteId
			);
			if (!config) throw new ApiError(404, "not_found", "no such site");
			return c.json(config);
		}
	)
	.endpoint(
		createRoute({
			...adminCall,
			method: "post",
			path: `${SITE}/agents`,
			summary: "Create an agent",
			middleware: [limitBody(4096)],
			request: { params: SiteParams, body: jsonBody(CreateAgentSchema) },
			responses: {
				201: answer("The agent", AdminAgentAnswerSchema),
				...errors(400, 401, 404, 409, 413),
			},
		}),
		async (c) => {
			const siteId = c.req.valid("param").siteId;
			const input = c.req.valid("json");
			if (!(await getSiteConfig(c.env.SITE_CONFIG, siteId)))
				throw new ApiError(404, "not_found", "no such site");
			const row = await c.env.DB.prepare(
				`INSERT INTO agents (id, site_id, email, name, password_hash, max_chats, role, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
			 ON CONFLICT DO NOTHING RETURNING ${AGENT_COLUMNS}`
			)
				.bind(
					input.id ?? crypto.randomUUID(),
					siteId,
					input.email.toLowerCase(),
					input.name,
					await hashPassword(input.password),
					input.maxChats,
					input.role,
					Date.now()
				)
				.first<AgentRow>();
			if (!row)
				throw new ApiError(
					409,
					"conflict",
					"an agent with this email or id already exists"
				);
			return c.json({ agent: adminAgent(row) }, 201);
		}
	)
	.endpoint(
		createRoute({
			...adminCall,
			method: "patch",
			path: `${SITE}/agents/{agentId}`,
			summary:
				"Change an agent; a new password, role or capacity, or disabling, revokes its tokens",
			middleware: [limitBody(4096)],
			request: {
				params: pathParams("siteId", "agentId"),
				body: jsonBody(UpdateAgentSchema),
			},
			responses: {
				200: answer("The agent", AdminAgentAnswerSchema),
				...errors(400, 401, 404, 413),
			},
		}),
		async (c) => {
			const { siteId, agentId } = c.req.valid("param");
			const input = c.req.valid("json");
			// A new password, a disabling, or a new role or capacity revokes every token issued so far
			// (SPEC §6): the tokens carry the role and capacity that rooms and the dispatcher act on.
			// Only a real change counts: the CASE reads the row as it was before this update.
			// One batch is one transaction: the version before and after this update, whatever runs beside it.
			const [before, after] = await c.env.DB.batch<{ token_version: number }>([
				c.env.DB.prepare(
					`SELECT token_version FROM agents WHERE site_id = ? AND id = ?`
				).bind(siteId, agentId),
				c.env.DB.prepare(
					`UPDATE agents SET
				name = coalesce(?1, name), role = coalesce(?2, role), max_chats = coalesce(?3, max_chats),
				password_hash = coalesce(?4, password_hash), disabled = coalesce(?5, disabled),
				token_version = token_version + CASE
					WHEN ?4 IS NOT NULL OR ?5 = 1 OR ?2 <> role OR ?3 <> max_chats THEN 1 ELSE 0 END
			 WHERE site_id = ?6 AND id = ?7 RETURNING ${AGENT_COLUMNS}`
				).bind(
					input.name ?? null,
					input.role ?? null,
					input.maxChats ?? null,
					input.password === undefined
						? null
						: await hashPassword(input.password),
					input.disabled === undefined ? null : Number(input.disabled),
					siteId,
					agentId
				),
			]);
			const row = after?.results[0] as AgentRow | undefined;
			if (!row) throw new ApiError(404, "not_found", "no such agent");
			if (row.token_version !== before?.results[0]?.token_version) {
				await publishMinimumTokenVersions(c.env, siteId);
				// Open sockets are closed now, not at their next frame: the dispatcher knows the agent's consoles and chats.
				await siteDispatcher(c.env, siteId).agentRevoked(
					siteId,
					agentId,
					row.token_version
				);
			}
			return c.json({ agent: adminAgent(row) });
		}
	);

/**
 * Writes the site's whole map from D1, the system of record, rather than adding this agent to what
 * KV holds: KV has no compare-and-set. Two PATCHes of one site at once can still each write a map
 * read before the other's update, so the map is read again after writing, and written again if it
 * changed: whichever writes last then read D1 after both updates.
 */
async function publishMinimumTokenVersions(
	env: Env,
	siteId: string
): Promise<void> {
	let minimums = await minimumTokenVersions(env.DB, siteId);
	for (let attempt = 0; attempt < 3; attempt++) {
		await putMinimumTokenVersions(env.SITE_CONFIG, siteId, minimums);
		const again = await minimumTokenVersions(env.DB, siteId);
		if (JSON.stringify(again) === JSON.stringify(minimums)) return;
		minimums = again;
	}
}

/** Agents start at version 1, so only those ever revoked are listed. */
async function minimumTokenVersions(
	db: D1Database,
	siteId: string
): Promise<Record<string, number>> {
	const { results } = await db
		.prepare(
			`SELECT id, token_version FROM agents WHERE site_id = ? AND token_version > 1 ORDER BY id`
		)
		.bind(siteId)
		.all<{ id: string; token_version: number }>();
	return Object.fromEntries(results.map((r) => [r.id, r.token_version]));
}
