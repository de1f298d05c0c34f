/** Endpoints whose only effect is an event on the queues (SPEC §4, §8): rating, offline message, wrap-up. */
import { createRoute } from "@hono/zod-openapi";
import { callerOf } from "../../durable-objects/room-contract.ts";
import { eventId, publisher } from "../../queues/publisher.ts";
import { requireToken } from "../auth.ts";
import { clientAddressKey } from "../client-address.ts";
import { ApiError, rateLimited } from "../errors.ts";
import { limitBody } from "../http.ts";
import {
	AGENT,
	answer,
	errors,
	NO_TOKEN,
	returnResult,
	VISITOR_OR_AGENT,
} from "../openapi-answers.ts";
import { Api, jsonBody } from "../openapi.ts";
import { AcceptedEventSchema } from "../protocol/answers.ts";
import {
	OfflineMessageSchema,
	RatingSchema,
	WrapupSchema,
} from "../protocol/events.ts";
import { getSiteConfig } from "../site-config-cache.ts";
import { CHAT, ChatParams, SITE, SiteParams } from "./paths.ts";
import { chatRoom, replyFromRoom } from "./room.ts";
import type {
	OfflineMessagePayload,
	RatingPayload,
} from "../protocol/events.ts";
import type { ContentfulStatusCode } from "hono/utils/http-status";

const ACCEPTED: ContentfulStatusCode = 202;

/** After the body is checked, so a malformed request never uses up the sender's allowance. */
async function within(
	limiter: RateLimit,
	key: string,
	message: string
): Promise<void> {
	const { success } = await limiter.limit({ key });
	// The binding does not say when its minute ends: a whole period is the honest upper bound.
	if (!success) throw rateLimited(message, 60);
}

const accepted = answer("The event was taken (202)", AcceptedEventSchema);

export const events = new Api()
	.endpoint(
		createRoute({
			method: "post",
			path: `${CHAT}/rating`,
			tags: ["Visitor"],
			summary: "Rate the chat (visitor.rating)",
			security: VISITOR_OR_AGENT,
			middleware: [limitBody(8 * 1024), requireToken],
			request: { params: ChatParams, body: jsonBody(RatingSchema) },
			responses: { 202: accepted, ...errors(400, 401, 403, 413, 429) },
		}),
		async (c) => {
			const { siteId, chatId } = c.req.valid("param");
			const claims = c.get("claims");
			if (claims.role !== "visitor")
				throw new ApiError(
					403,
					"forbidden",
					"only the chat's visitor rates it"
				);
			const body = c.req.valid("json");
			await within(
				c.env.RATING_LIMIT,
				chatId,
				"too many ratings for this chat, try again in a minute"
			);
			const payload: RatingPayload = {
				chatId,
				siteId,
				visitorId: claims.sub,
				rating: body.rating,
				comment: body.comment ?? null,
				ratedAt: Date.now(),
			};
			const uniqueId = eventId("visitor.rating", [siteId, chatId], body.id);
			await publisher(c.env, siteId).publish(
				"visitor.rating",
				uniqueId,
				payload
			);
			return c.json({ code: 0, id: uniqueId }, ACCEPTED);
		}
	)
	.endpoint(
		createRoute({
			method: "post",
			path: `${SITE}/offline-messages`,
			tags: ["Visitor"],
			summary:
				"Leave a message when no agent is online (offlineMessage.submit)",
			security: NO_TOKEN,
			middleware: [limitBody(16 * 1024)],
			request: { params: SiteParams, body: jsonBody(OfflineMessageSchema) },
			responses: { 202: accepted, ...errors(400, 404, 413, 429) },
		}),
		async (c) => {
			const siteId = c.req.valid("param").siteId;
			const body = c.req.valid("json");
			if (!(await getSiteConfig(c.env.SITE_CONFIG, siteId)))
				throw new ApiError(404, "not_found", "no such site");
			await within(
				c.env.OFFLINE_MESSAGE_LIMIT,
				`${siteId}:${clientAddressKey(c.req.raw)}`,
				"too many offline messages, try again in a minute"
			);
			const id = body.id ?? crypto.randomUUID();
			const payload: OfflineMessagePayload = {
				id,
				siteId,
				name: body.name ?? null,
				email: body.email,
				phone: body.phone ?? null,
				department: body.department ?? null,
				message: body.message,
				submittedAt: Date.now(),
			};
			await publisher(c.env, siteId).publish(
				"offlineMessage.submit",
				eventId("offlineMessage.submit", [siteId], id),
				payload
			);
			return c.json({ code: 0, id }, ACCEPTED);
		}
	)
	.endpoint(
		createRoute({
			method: "post",
			path: `${CHAT}/wrapup`,
			tags: ["Agent"],
			summary: "Wrap the chat up (agent.wrapup)",
			security: AGENT,
			middleware: [limitBody(8 * 1024), requireToken],
			request: { params: ChatParams, body: jsonBody(WrapupSchema) },
			responses: {
				202: accepted,
				200: returnResult(
					"The room lost the chat (code 1): rebuild, then wrap up again"
				),
				...errors(400, 401, 403, 404, 409, 413),
			},
		}),
		async (c) => {
			const { siteId, chatId } = c.req.valid("param");
			const body = c.req.valid("json");
			const caller = callerOf(c.get("claims"), siteId, chatId);
			if (caller.role !== "agent")
				throw new ApiError(403, "forbidden", "only an agent wraps a chat up");
			const answer = await chatRoom(c.env, siteId, chatId).wrapup(caller, body);
			// The room may have lost the chat (code 1): the agent's client rebuilds it and sends the wrap-up again.
			if ("uniqueId" in answer)
				return c.json({ code: 0, id: answer.uniqueId }, ACCEPTED);
			return replyFromRoom(c, answer);
		}
	);
