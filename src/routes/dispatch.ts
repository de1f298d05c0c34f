import { createRoute } from "@hono/zod-openapi";
import { DISPATCHER_FRAMES_LIMIT_HEADER } from "../../durable-objects/dispatcher-console.ts";
import { OBJECT_NAME_HEADER } from "../../durable-objects/room-contract.ts";
import { requireToken } from "../auth.ts";
import { ApiError } from "../errors.ts";
import { limitBody } from "../http.ts";
import { admitUpgrade } from "../limits.ts";
import {
	AGENT,
	answer,
	errors,
	NO_TOKEN,
	socketUpgrade,
} from "../openapi-answers.ts";
import { Api, jsonBody } from "../openapi.ts";
import {
	AgentChatsSchema,
	AgentListSchema,
	AvailabilitySchema,
	StatusAnswerSchema,
	WaitingListSchema,
} from "../protocol/answers.ts";
import { SetStatusSchema } from "../protocol/dispatch.ts";
import { getSiteConfig } from "../site-config-cache.ts";
import { SITE, SiteParams } from "./paths.ts";
import { agentOf, siteDispatcher } from "./room.ts";
import type { AppEnv } from "../auth.ts";
import type { AgentSummary } from "../protocol/dispatch.ts";
import type { RouteConfig } from "@hono/zod-openapi";
import type { Context } from "hono";

/** The SiteDispatcher's endpoints (SPEC §4, §7): presence, the queue, availability, agents, the agent socket (chat actions: chat-actions.ts). */

/** A made-up site creates no Durable Object (SPEC §5). */
async function knownSite(c: Context<AppEnv>, siteId: string): Promise<void> {
	if (!(await getSiteConfig(c.env.SITE_CONFIG, siteId)))
		throw new ApiError(404, "not_found", "no such site");
}

const agentCall = {
	tags: ["Agent"],
	security: AGENT,
	middleware: [requireToken],
	request: { params: SiteParams },
} satisfies Partial<RouteConfig>;
const agentErrors = errors(401, 403);

export const dispatch = new Api()
	.endpoint(
		createRoute({
			method: "get",
			path: `${SITE}/availability`,
			tags: ["Visitor"],
			summary: "Whether an agent is online, and how many chats wait",
			security: NO_TOKEN,
			request: { params: SiteParams },
			responses: {
				200: answer("Availability", AvailabilitySchema),
				...errors(404),
			},
		}),
		async (c) => {
			const siteId = c.req.valid("param").siteId;
			await knownSite(c, siteId);
			return c.json(await siteDispatcher(c.env, siteId).availability());
		}
	)
	.endpoint(
		createRoute({
			...agentCall,
			method: "put",
			path: `${SITE}/agents/me/status`,
			summary: "Set the agent's status",
			middleware: [limitBody(1024), requireToken],
			request: { params: SiteParams, body: jsonBody(SetStatusSchema) },
			responses: {
				200: answer("The status now", StatusAnswerSchema),
				...errors(400, 401, 403, 413),
			},
		}),
		async (c) => {
			const siteId = c.req.valid("param").siteId;
			const agent = agentOf(c);
			const { status } = c.req.valid("json");
			return c.json(
				await siteDispatcher(c.env, siteId).setStatus(siteId, agent, status)
			);
		}
	)
	.endpoint(
		createRoute({
			...agentCall,
			method: "get",
			path: `${SITE}/queue`,
			summary: "The waiting chats, oldest first",
			responses: {
				200: answer("The queue", WaitingListSchema),
				...agentErrors,
			},
		}),
		async (c) => {
			const siteId = c.req.valid("param").siteId;
			agentOf(c);
			return c.json({
				waiting: await siteDispatcher(c.env, siteId).waitingList(),
			});
		}
	)
	.endpoint(
		createRoute({
			...agentCall,
			method: "get",
			path: `${SITE}/agents`,
			summary: "The site's agents, with presence and free capacity",
			responses: {
				200: answer("The agents", AgentListSchema),
				...agentErrors,
			},
		}),
		async (c) => {
			const siteId = c.req.valid("param").siteId;
			agentOf(c);
			// Every agent of the site (D1), with the presence the dispatcher has for it; one it has not heard of is offline.
			const [rows, presence] = await Promise.all([
				c.env.DB.prepare(
					`SELECT id, name, role, max_chats FROM agents WHERE site_id = ? AND disabled = 0 ORDER BY name`
				)
					.bind(siteId)
					.all<{
						id: string;
						name: string;
						role: AgentSummary["role"];
						max_chats: number;
					}>(),
				siteDispatcher(c.env, siteId).presence(),
			]);
			const live = new Map(presence.map((a) => [a.id, a]));
			const agents: AgentSummary[] = rows.results.map((r) => {
				const seen = live.get(r.id);
				return {
					id: r.id,
					name: r.name,
					role: r.role,
					status: seen?.status ?? "offline",
					maxChats: r.max_chats,
					free: seen?.free ?? r.max_chats,
				};
			});
			return c.json({ agents });
		}
	)
	.endpoint(
		createRoute({
			...agentCall,
			method: "get",
			path: `${SITE}/agents/me/chats`,
			summary: "The caller's live chats",
			responses: {
				200: answer("The chats", AgentChatsSchema),
				...agentErrors,
			},
		}),
		async (c) => {
			const siteId = c.req.valid("param").siteId;
			const agent = agentOf(c);
			return c.json({
				chats: await siteDispatcher(c.env, siteId).chatsOf(agent.id),
			});
		}
	)
	.endpoint(
		createRoute({
			method: "get",
			path: `${SITE}/agents/me/ws`,
			tags: ["Agent"],
			summary: "The agent socket (SPEC §7)",
			description: `Upgrades to a WebSocket handed to the site's dispatcher. Client → server: \`hello\` \`{token, status?, chats?}\` first (the token never in the URL),
then \`status\` \`{status}\` and \`accept\` \`{chatId}\`. Server → client: \`presence\` \`{agents}\`, \`queue\` \`{waiting}\`, \`assigned\` and \`accepted\` \`{chatId, chatState}\`,
\`released\` \`{chatId, reason}\` (\`transferred\`, \`ended\`, \`stale\`, \`unanswered\`), \`invited\` \`{chatId, by}\`, \`private\` \`{from, message}\`, \`error\` \`{chatId?, error}\`.
The hello's \`chats\` are a claim: each is counted once its room says it is the agent's live chat; one the room says ended, was transferred away or never was the agent's is answered \`released\` with reason \`stale\`.
Frames beyond the site's \`limits.framesPerSecondPerSocket\` close the socket with 4429.`,
			request: { params: SiteParams },
			...socketUpgrade("the dispatcher's"),
		}),
		async (c) => {
			const siteId = c.req.valid("param").siteId;
			const { config, forward } = await admitUpgrade(c, siteId);
			// The token comes in the hello frame, as on a chat socket; frames are limited as on a chat socket (SPEC §6).
			return siteDispatcher(c.env, siteId).fetch(
				forward({
					[OBJECT_NAME_HEADER]: siteId,
					[DISPATCHER_FRAMES_LIMIT_HEADER]: String(
						config.limits.framesPerSecondPerSocket
					),
				})
			);
		}
	);
