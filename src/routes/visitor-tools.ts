/** The agents' side tools on visitors and each other (SPEC §4, §7): the tracked list, invitations, bans, preferences, private messages. Each publishes its log event. */
import { createRoute } from "@hono/zod-openapi";
import { requireToken } from "../auth.ts";
import { ApiError } from "../errors.ts";
import { assertContentLength, limitBody } from "../http.ts";
import { AGENT, answer, errors } from "../openapi-answers.ts";
import { Api, jsonBody, pathParams } from "../openapi.ts";
import {
	BannedSchema,
	DeliveredSchema,
	PreferencesSavedSchema,
	TrackedVisitorsSchema,
} from "../protocol/answers.ts";
import {
	BanVisitorSchema,
	InviteVisitorSchema,
	PreferencesSchema,
	PrivateMessageSchema,
} from "../protocol/visitors.ts";
import { SITE, SiteParams } from "./paths.ts";
import { agentOf, siteDispatcher, unwrap } from "./room.ts";
import { ACCEPTED, publish } from "./visitors.ts";
import type { Ban } from "../../durable-objects/visitor-model.ts";

const VISITOR = `${SITE}/visitors/{visitorId}`;
const VisitorParams = pathParams("siteId", "visitorId");
const AGENT_PATH = `${SITE}/agents/{agentId}`;
const AgentParams = pathParams("siteId", "agentId");

export const visitorTools = new Api()
	.endpoint(
		createRoute({
			method: "get",
			path: `${SITE}/visitors`,
			tags: ["Agent"],
			summary: "The tracked visitors",
			security: AGENT,
			middleware: [requireToken],
			request: { params: SiteParams },
			responses: {
				200: answer("The tracked visitors", TrackedVisitorsSchema),
				...errors(401, 403),
			},
		}),
		async (c) => {
			const siteId = c.req.valid("param").siteId;
			agentOf(c);
			return c.json({
				visitors: await siteDispatcher(c.env, siteId).trackedVisitors(),
			});
		}
	)
	.endpoint(
		createRoute({
			method: "post",
			path: `${VISITOR}/invite`,
			tags: ["Agent"],
			summary: "Invite a visitor to chat (invitation.log)",
			security: AGENT,
			middleware: [limitBody(8 * 1024), requireToken],
			request: { params: VisitorParams, body: jsonBody(InviteVisitorSchema) },
			responses: {
				200: answer("How many of its page sockets took it", DeliveredSchema),
				...errors(400, 401, 403, 404, 413),
			},
		}),
		async (c) => {
			const { siteId, visitorId } = c.req.valid("param");
			const agent = agentOf(c);
			const { message } = c.req.valid("json");
			const { delivered } = unwrap<{ delivered: number }>(
				await siteDispatcher(c.env, siteId).inviteVisitor(
					siteId,
					agent,
					visitorId,
					message
				)
			);
			await publish(c, siteId, "invitation.log", agent.id, {
				agentId: agent.id,
				agentName: agent.name,
				visitorId,
				message,
				delivered,
			});
			return c.json({ code: 0, delivered });
		}
	)
	.endpoint(
		createRoute({
			method: "post",
			path: `${VISITOR}/ban`,
			tags: ["Agent"],
			summary: "Ban a visitor (agent.ban)",
			security: AGENT,
			middleware: [limitBody(4 * 1024), requireToken],
			request: { params: VisitorParams, body: jsonBody(BanVisitorSchema) },
			responses: {
				200: answer("The ban", BannedSchema),
				...errors(400, 401, 403, 413),
			},
		}),
		async (c) => {
			const { siteId, visitorId } = c.req.valid("param");
			const agent = agentOf(c);
			const body = c.req.valid("json");
			const at = Date.now();
			const ban: Ban = {
				visitorId,
				until: body.minutes === undefined ? null : at + body.minutes * 60_000,
				reason: body.reason ?? null,
				agentId: agent.id,
				at,
			};
			// D1 first: a dispatcher that starts without its bans reads them from there (SPEC §7).
			await c.env.DB.prepare(
				`INSERT INTO bans (site_id, visitor_id, until, reason, agent_id, banned_at) VALUES (?, ?, ?, ?, ?, ?)
			 ON CONFLICT (site_id, visitor_id) DO UPDATE SET until = excluded.until, reason = excluded.reason, agent_id = excluded.agent_id, banned_at = excluded.banned_at`
			)
				.bind(siteId, visitorId, ban.until, ban.reason, ban.agentId, ban.at)
				.run();
			await siteDispatcher(c.env, siteId).banVisitor(siteId, ban);
			await publish(c, siteId, "agent.ban", agent.id, {
				agentId: agent.id,
				visitorId,
				reason: ban.reason,
				until: ban.until,
			});
			return c.json({ code: 0, visitorId, until: ban.until });
		}
	)
	.endpoint(
		createRoute({
			method: "put",
			path: `${SITE}/agents/me/preferences`,
			tags: ["Agent"],
			summary: "Save the console's preferences (agent.savePreference)",
			security: AGENT,
			middleware: [limitBody(8 * 1024), requireToken],
			request: { params: SiteParams, body: jsonBody(PreferencesSchema) },
			responses: {
				202: answer("The preferences were taken", PreferencesSavedSchema),
				...errors(400, 401, 403, 413),
			},
		}),
		async (c) => {
			const siteId = c.req.valid("param").siteId;
			const agent = agentOf(c);
			const preferences = c.req.valid("json");
			const { uniqueId } = await publish(
				c,
				siteId,
				"agent.savePreference",
				agent.id,
				{ agentId: agent.id, preferences }
			);
			return c.json({ code: 0, id: uniqueId, preferences }, ACCEPTED);
		}
	)
	.endpoint(
		createRoute({
			method: "post",
			path: `${AGENT_PATH}/messages`,
			tags: ["Agent"],
			summary: "A private message to another agent (privateMessage.log)",
			security: AGENT,
			middleware: [limitBody(32 * 1024), requireToken],
			request: { params: AgentParams, body: jsonBody(PrivateMessageSchema) },
			responses: {
				200: answer("How many of its consoles took it", DeliveredSchema),
				...errors(400, 401, 403, 404, 413),
			},
		}),
		async (c) => {
			const { siteId, agentId } = c.req.valid("param");
			const from = agentOf(c);
			const { content } = c.req.valid("json");
			assertContentLength([content]);
			if (agentId === from.id)
				throw new ApiError(
					400,
					"invalid_request",
					"a private message goes to another agent"
				);
			const to = await c.env.DB.prepare(
				`SELECT id FROM agents WHERE site_id = ? AND id = ? AND disabled = 0`
			)
				.bind(siteId, agentId)
				.first<{ id: string }>();
			if (!to)
				throw new ApiError(404, "not_found", "no such agent on this site");
			const { delivered } = await siteDispatcher(c.env, siteId).privateMessage(
				siteId,
				from,
				agentId,
				content
			);
			const payload = {
				fromAgentId: from.id,
				fromName: from.name,
				toAgentId: agentId,
				message: content,
				delivered,
			};
			await publish(c, siteId, "privateMessage.log", from.id, payload);
			return c.json({ code: 0, delivered });
		}
	);
