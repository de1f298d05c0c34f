/** What agents do to a chat through the dispatcher or the room (SPEC §4, §7): join, monitor, invite, transfer. */
import { createRoute } from "@hono/zod-openapi";
import { agentCaller } from "../../durable-objects/room-contract.ts";
import { requireToken } from "../auth.ts";
import { ApiError } from "../errors.ts";
import { limitBody } from "../http.ts";
import {
	AGENT,
	answer,
	chatTaken,
	errors,
	named,
	OFFSET_ANSWER_HEADERS,
	returnResult,
} from "../openapi-answers.ts";
import { Api, jsonBody } from "../openapi.ts";
import { InvitedSchema } from "../protocol/answers.ts";
import { ReturnResultSchema } from "../protocol/chat.ts";
import { InviteAgentSchema, TransferSchema } from "../protocol/dispatch.ts";
import { CHAT, ChatParams } from "./paths.ts";
import {
	agentOf,
	chatRoom,
	replyFromRoom,
	siteDispatcher,
	taken,
} from "./room.ts";
import type { RouteConfig } from "@hono/zod-openapi";

const chatAction = {
	tags: ["Agent"],
	security: AGENT,
	middleware: [limitBody(1024), requireToken],
	request: { params: ChatParams },
} satisfies Partial<RouteConfig>;

export const chatActions = new Api()
	.endpoint(
		createRoute({
			...chatAction,
			method: "post",
			path: `${CHAT}/join`,
			summary: "A supervisor, or an invited agent, joins the chat",
			responses: {
				200: chatTaken("The chat joined, or the room's code 1"),
				...errors(401, 403, 404, 409, 413),
			},
		}),
		async (c) => {
			const { siteId, chatId } = c.req.valid("param");
			return taken(
				c,
				await siteDispatcher(c.env, siteId).join(siteId, agentOf(c), chatId)
			);
		}
	)
	.endpoint(
		createRoute({
			...chatAction,
			method: "post",
			path: `${CHAT}/monitor`,
			summary: "A supervisor watches the chat without joining",
			responses: {
				200: returnResult("The chat as the supervisor may read it"),
				...errors(401, 403, 404, 413),
			},
		}),
		async (c) => {
			const { siteId, chatId } = c.req.valid("param");
			const agent = agentOf(c);
			if (agent.role !== "supervisor")
				throw new ApiError(403, "forbidden", "only supervisors monitor chats");
			// Monitoring changes nothing in the chat: the supervisor reads it (poll, socket) as any chat of its site, and cannot send.
			return replyFromRoom(
				c,
				await chatRoom(c.env, siteId, chatId).poll(
					agentCaller(agent, siteId, chatId),
					{ visitorDataOffset: 0, agentDataOffset: 0 }
				)
			);
		}
	)
	.endpoint(
		createRoute({
			...chatAction,
			method: "post",
			path: `${CHAT}/invite`,
			summary:
				"Invite another online agent of the site to the chat, who may then join",
			request: { params: ChatParams, body: jsonBody(InviteAgentSchema) },
			responses: {
				200: answer(
					"The invitation was sent",
					{
						anyOf: [
							named("Invited", InvitedSchema),
							named("ReturnResult", ReturnResultSchema),
						],
					},
					OFFSET_ANSWER_HEADERS
				),
				...errors(400, 401, 403, 404, 409, 413),
			},
		}),
		async (c) => {
			const { siteId, chatId } = c.req.valid("param");
			const { agentId } = c.req.valid("json");
			const from = agentOf(c);
			// Only an agent of this site (D1 has them all; the dispatcher knows only those it heard from).
			const invitee = await c.env.DB.prepare(
				`SELECT 1 AS one FROM agents WHERE site_id = ? AND id = ? AND disabled = 0`
			)
				.bind(siteId, agentId)
				.first();
			if (!invitee)
				throw new ApiError(404, "not_found", "no such agent on this site");
			const answer = await siteDispatcher(c.env, siteId).inviteToChat(
				siteId,
				from,
				chatId,
				agentId
			);
			return taken(c, answer, "chatId");
		}
	)
	.endpoint(
		createRoute({
			...chatAction,
			method: "post",
			path: `${CHAT}/transfer`,
			summary: "Hand the chat to another agent",
			request: { params: ChatParams, body: jsonBody(TransferSchema) },
			responses: {
				200: chatTaken(
					"The chat as the new agent takes it, or the room's code 1"
				),
				...errors(400, 401, 403, 404, 409, 413),
			},
		}),
		async (c) => {
			const { siteId, chatId } = c.req.valid("param");
			const agent = agentOf(c);
			const { toAgentId, visitorDataOffset, agentDataOffset } =
				c.req.valid("json");
			const held =
				visitorDataOffset !== undefined && agentDataOffset !== undefined
					? { visitorDataOffset, agentDataOffset }
					: undefined;
			return taken(
				c,
				await siteDispatcher(c.env, siteId).transfer(
					siteId,
					agent,
					chatId,
					toAgentId,
					held
				)
			);
		}
	);
