import { createRoute } from "@hono/zod-openapi";
import { DISPATCHER_SOCKET_HEADER } from "../../durable-objects/dispatcher-visitors.ts";
import { OBJECT_NAME_HEADER } from "../../durable-objects/room-contract.ts";
import { eventId, publisher } from "../../queues/publisher.ts";
import { clientAddressKey } from "../client-address.ts";
import { ApiError } from "../errors.ts";
import { limitBody } from "../http.ts";
import { admitUpgrade, withinRate } from "../limits.ts";
import { answer, errors, NO_TOKEN, socketUpgrade } from "../openapi-answers.ts";
import { Api, jsonBody } from "../openapi.ts";
import { AcceptedEventSchema, VisitResultSchema } from "../protocol/answers.ts";
import { ConversionSchema, VisitSchema } from "../protocol/visitors.ts";
import {
	openVisitorState,
	sealVisitorState,
} from "../security/visitor-state.ts";
import { getSiteConfig } from "../site-config-cache.ts";
import { SITE, SiteParams } from "./paths.ts";
import { siteDispatcher } from "./room.ts";
import type { AppEnv } from "../auth.ts";
import type { EventName } from "../protocol/events.ts";
import type { SiteConfig } from "../protocol/site-config.ts";
import type { VisitResult } from "../protocol/visitors.ts";
import type { VisitorState } from "../security/visitor-state.ts";
import type { Context } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";

/**
 * Visitor tracking from the page (SPEC §4, §7): visits, conversions and the page socket. Each call
 * publishes its log event (publish, shared with the agents' side tools in visitor-tools.ts).
 */

export const ACCEPTED: ContentfulStatusCode = 202;

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
export const publish = (
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
				forward({
					[OBJECT_NAME_HEADER]: siteId,
					[DISPATCHER_SOCKET_HEADER]: "visitor",
				})
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
	);
