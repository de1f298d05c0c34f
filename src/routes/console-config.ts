/**
 * What the agent console needs beyond the SDK's calls (SPEC §9): the site's canned messages,
 * wrap-up categories and routing mode (agents may not read the whole SiteConfig, which holds
 * integration secrets), and for supervisors the site's live chats, to join or monitor them.
 */
import { createRoute } from "@hono/zod-openapi";
import { requireToken } from "../auth.ts";
import { ApiError } from "../errors.ts";
import { AGENT, answer, errors } from "../openapi-answers.ts";
import { Api } from "../openapi.ts";
import { ConsoleConfigSchema, LiveChatsSchema } from "../protocol/answers.ts";
import { getSiteConfig } from "../site-config-cache.ts";
import { SITE, SiteParams } from "./paths.ts";
import { agentOf, siteDispatcher } from "./room.ts";
import type { ConsoleConfig, LiveChatSummary } from "../protocol/console.ts";

const agentCall = {
	tags: ["Agent"],
	security: AGENT,
	middleware: [requireToken],
	request: { params: SiteParams },
};

export const consoleConfig = new Api()
	.endpoint(
		createRoute({
			...agentCall,
			method: "get",
			path: `${SITE}/console-config`,
			summary:
				"Canned messages, wrap-up categories and routing mode, for the console",
			responses: {
				200: answer("The console's configuration", ConsoleConfigSchema),
				...errors(401, 403, 404),
			},
		}),
		async (c) => {
			const siteId = c.req.valid("param").siteId;
			agentOf(c);
			const config = await getSiteConfig(c.env.SITE_CONFIG, siteId);
			if (!config) throw new ApiError(404, "not_found", "no such site");
			const answer: ConsoleConfig = {
				routing: { mode: config.routing.mode },
				cannedMessages: config.cannedMessages,
				wrapupCategories: config.wrapupCategories,
			};
			return c.json(answer);
		}
	)
	.endpoint(
		createRoute({
			...agentCall,
			method: "get",
			path: `${SITE}/live-chats`,
			summary: "The site's assigned chats (supervisors)",
			responses: {
				200: answer("The live chats", LiveChatsSchema),
				...errors(401, 403),
			},
		}),
		async (c) => {
			const siteId = c.req.valid("param").siteId;
			if (agentOf(c).role !== "supervisor")
				throw new ApiError(
					403,
					"forbidden",
					"only supervisors see the site's chats"
				);
			// The dispatcher keeps each agent's chats: their union is the site's assigned chats (waiting ones are the queue).
			const dispatcher = siteDispatcher(c.env, siteId);
			const agents = await dispatcher.presence();
			const byChat = new Map<string, LiveChatSummary>();
			for (const agent of agents) {
				for (const chat of await dispatcher.chatsOf(agent.id)) {
					const known = byChat.get(chat.chatId) ?? { ...chat, agentIds: [] };
					known.agentIds.push(agent.id);
					byChat.set(chat.chatId, known);
				}
			}
			return c.json({
				chats: [...byChat.values()].sort(
					(a, b) => (a.requestTime ?? 0) - (b.requestTime ?? 0)
				),
			});
		}
	);
