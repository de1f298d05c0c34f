/**
 * What the agent console needs beyond the SDK's calls (SPEC §9): the site's canned messages,
 * wrap-up categories and routing mode (agents may not read the whole SiteConfig, which holds
 * integration secrets), and for supervisors the site's live chats, to join or monitor them.
 */
import { Hono } from "hono";
import { requireToken } from "../auth.ts";
import { ApiError } from "../errors.ts";
import { getSiteConfig } from "../site-config-cache.ts";
import { SITE } from "./chats.ts";
import { agentOf } from "./dispatch.ts";
import { siteDispatcher } from "./room.ts";
import type { AppEnv } from "../auth.ts";
import type { ConsoleConfig, LiveChatSummary } from "../protocol/console.ts";

export const consoleConfig = new Hono<AppEnv>()
	.get(`${SITE}/console-config`, requireToken, async (c) => {
		const siteId = c.req.param("siteId");
		agentOf(c);
		const config = await getSiteConfig(c.env.SITE_CONFIG, siteId);
		if (!config) throw new ApiError(404, "not_found", "no such site");
		const answer: ConsoleConfig = {
			routing: { mode: config.routing.mode },
			cannedMessages: config.cannedMessages,
			wrapupCategories: config.wrapupCategories,
		};
		return c.json(answer);
	})
	.get(`${SITE}/live-chats`, requireToken, async (c) => {
		const siteId = c.req.param("siteId");
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
	});
