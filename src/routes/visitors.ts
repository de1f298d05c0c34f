import { createRoute } from "@hono/zod-openapi";
import { DISPATCHER_SOCKET_HEADER } from "../../durable-objects/dispatcher-visitors.ts";
import { eventId, publisher } from "../../queues/publisher.ts";
import { requireToken } from "../auth.ts";
import { clientAddressKey } from "../client-address.ts";
import { ApiError } from "../errors.ts";
import { assertContentLength, limitBody } from "../http.ts";
import { admitUpgrade, withinRate } from "../limits.ts";
import {
	AGENT,
	answer,
	errors,
	NO_TOKEN,
	socketUpgrade,
} from "../openapi-answers.ts";
import { Api, jsonBody, pathParams } from "../openapi.ts";
import {
	AcceptedEventSchema,
	BannedSchema,
	DeliveredSchema,
	PreferencesSavedSchema,
	TrackedVisitorsSchema,
	VisitResultSchema,
} from "../protocol/answers.ts";
import {
	BanVisitorSchema,
	ConversionSchema,
	InviteVisitorSchema,
	PreferencesSchema,
	PrivateMessageSchema,
	VisitSchema,
} from "../protocol/visitors.ts";
import {
	openVisitorState,
	sealVisitorState,
} from "../security/visitor-state.ts";
import { getSiteConfig } from "../site-config-cache.ts";
import { SITE, SiteParams } from "./chats.ts";
import { agentOf } from "./dispatch.ts";
import { siteDispatcher, unwrap } from "./room.ts";
import type { Ban } from "../../durable-objects/visitor-model.ts";
import type { AppEnv } from "../auth.ts";
import type { EventName } from "../protocol/events.ts";
import type { SiteConfig } from "../protocol/site-config.ts";
import type { VisitResult } from "../protocol/visitors.ts";
import type { VisitorState } from "../security/visitor-state.ts";
import type { Context } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";

/**
 * Visitor tracking and the agents' side tools (SPEC §4, §7): visits and the page socket, the tracked
 * list, invitations, bans, conversions, preferences and private messages. Each publishes its log event.
 */

const VISITOR = `${SITE}/visitors/{visitorId}`;
const VisitorParams = pathParams("siteId", "visitorId");
const AGENT_PATH = `${SITE}/agents/{agentId}`;
const AgentParams = pathParams("siteId", "agentId");
const ACCEPTED: ContentfulStatusCode = 202;

async function siteConfigOf(
	c: Context<AppEnv>,
	siteId: string
): Promise<SiteConfig> {
	const config = await getSiteConfig(c.env.SITE_CONFIG, siteId);
	if (!config) throw new ApiError(404, "not_found", "no such site");
	return config;
}

async function openState(
	c: Context<AppEnv>,
	siteId: string,
	sealed: string
): Promise<VisitorState> {
	const state = await openVisitorState(c.env, siteId, sealed);
	if (!state)
		throw new ApiError(
			403,
			"invalid_visitor_state",
			"visitorState does not open"
		);
	return state;
}

/**
 * Token-less calls a page makes on every view (visits, conversions) are counted per client address
 * like socket upgrades, which come at the same pace (each page view opens a page socket).
 */
const withinPageRate = (
	c: Context<AppEnv>,
	what: string,
	siteId: string,
	config: SiteConfig
) =>
	withinRate(
		c.env,
		`${what}:${siteId}:${clientAddressKey(c.req.raw)}`,
		config.limits.socketUpgradesPerMinutePerAddress,
		"too many requests from this address, try again shortly"
	);

/** `<name>:<site>:<who>:<random>`: each request is its own event. */
const publish = (
	c: Context<AppEnv>,
	siteId: string,
	name: EventName,
	who: string,
	payload: Record<string, unknown>
) =>
	publisher(c.env, siteId).publish(name, eventId(name, [siteId, who]), {
		siteId,
		...payload,
		at: Date.now(),
	});

export const visitors = new Api()
	.endpoint(
		createRoute({
			method: "post",
			path: `${SITE}/visits`,
			tags: ["Visitor"],
			summary: "A page view: track the visitor (visit.log)",
			security: NO_TOKEN,
			middleware: [limitBody(8 * 1024)],
			request: { params: SiteParams, body: jsonBody(VisitSchema) },
			responses: {
				200: answer("The visitor and its sealed state", VisitResultSchema),
				...errors(400, 403, 404, 413, 429),
			},
		}),
		async (c) => {
			const siteId = c.req.valid("param").siteId;
			const body = c.req.valid("json");
			const config = await siteConfigOf(c, siteId);
			const known =
				body.visitorState === undefined
					? undefined
					: await openState(c, siteId, body.visitorState);
			await withinPageRate(c, "visit", siteId, config);
			const visitorId = known?.visitorId ?? crypto.randomUUID();
			const visit = {
				visitorId,
				page: body.page,
				title: body.title,
				referrer: body.referrer,
			};
			const { tracked } = await siteDispatcher(c.env, siteId).visit(
				siteId,
				visit,
				config.limits.maxTrackedVisitors
			);
			await publish(c, siteId, "visit.log", visitorId, {
				...visit,
				title: body.title ?? null,
				referrer: body.referrer ?? null,
				tracked,
			});
			// A fresh state for a new visitor; a returning one keeps its last agent (sticky routing).
			const visitorState = await sealVisitorState(
				c.env,
				siteId,
				known ?? { visitorId }
			);
			return c.json({ visitorId, visitorState, tracked } satisfies VisitResult);
		}
	)
	.endpoint(
		createRoute({
			method: "get",
			path: `${SITE}/visitors/me/ws`,
			tags: ["Visitor"],
			summary: "A tracked visitor's page socket, for invitations",
			description:
				"Upgrades to a hibernating WebSocket handed to the site's dispatcher. Client → server: `hello` `{visitorState, page?, title?, referrer?}` first. Server → client: `tracking` `{visitorId}`, `invitation` `{agentName, message}`, `error` `{error}`.",
			request: { params: SiteParams },
			...socketUpgrade("the dispatcher's"),
		}),
		async (c) => {
			const siteId = c.req.valid("param").siteId;
			const { forward } = await admitUpgrade(c, siteId);
			// The visitorState comes in the hello frame; the dispatcher checks it.
			return siteDispatcher(c.env, siteId).fetch(
				forward({ [DISPATCHER_SOCKET_HEADER]: "visitor" })
			);
		}
	)
	.endpoint(
		createRoute({
			method: "post",
			path: `${SITE}/conversions`,
			tags: ["Visitor"],
			summary: "A conversion on the page (conversion.log)",
			security: NO_TOKEN,
			middleware: [limitBody(8 * 1024)],
			request: { params: SiteParams, body: jsonBody(ConversionSchema) },
			responses: {
				202: answer("The event was taken", AcceptedEventSchema),
				...errors(400, 403, 404, 413, 429),
			},
		}),
		async (c) => {
			const siteId = c.req.valid("param").siteId;
			const body = c.req.valid("json");
			const config = await siteConfigOf(c, siteId);
			const { visitorId } = await openState(c, siteId, body.visitorState);
			await withinPageRate(c, "conversion", siteId, config);
			const { uniqueId } = await publish(
				c,
				siteId,
				"conversion.log",
				visitorId,
				{
					visitorId,
					name: body.name,
					value: body.value ?? null,
				}
			);
			return c.json({ code: 0, id: uniqueId }, ACCEPTED);
		}
	)
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
