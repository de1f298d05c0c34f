import { Hono } from "hono";
import { DISPATCHER_SITE_HEADER } from "../../durable-objects/dispatcher-sockets.ts";
import { agentRefOf } from "../../durable-objects/room-contract.ts";
import { requireToken } from "../auth.ts";
import { ApiError } from "../errors.ts";
import { limitBody, parseJson } from "../http.ts";
import { admitUpgrade } from "../limits.ts";
import {
	InviteAgentSchema,
	SetStatusSchema,
	TransferSchema,
} from "../protocol/dispatch.ts";
import { getSiteConfig } from "../site-config-cache.ts";
import { CHAT, SITE } from "./chats.ts";
import { chatRoom, replyFromRoom, siteDispatcher } from "./room.ts";
import type { AgentRef, Caller } from "../../durable-objects/room-contract.ts";
import type { AppEnv } from "../auth.ts";
import type { AgentSummary } from "../protocol/dispatch.ts";
import type { Context } from "hono";

/** The SiteDispatcher's endpoints (SPEC §4, §7): presence, the queue, availability, agents, transfer, the agent socket. */

/** The agent behind the token; visitors are refused. */
export function agentOf(c: Context<AppEnv>): AgentRef {
	const agent = agentRefOf(c.get("claims"));
	if (!agent) throw new ApiError(403, "forbidden", "only agents may do this");
	return agent;
}

/** A made-up site creates no Durable Object (SPEC §5). */
async function knownSite(c: Context<AppEnv>, siteId: string): Promise<void> {
	if (!(await getSiteConfig(c.env.SITE_CONFIG, siteId)))
		throw new ApiError(404, "not_found", "no such site");
}

export const dispatch = new Hono<AppEnv>()
	.get(`${SITE}/availability`, async (c) => {
		const siteId = c.req.param("siteId");
		await knownSite(c, siteId);
		return c.json(await siteDispatcher(c.env, siteId).availability());
	})
	.put(`${SITE}/agents/me/status`, limitBody(1024), requireToken, async (c) => {
		const siteId = c.req.param("siteId");
		const agent = agentOf(c);
		const { status } = await parseJson(c, SetStatusSchema);
		return c.json(
			await siteDispatcher(c.env, siteId).setStatus(siteId, agent, status)
		);
	})
	.get(`${SITE}/queue`, requireToken, async (c) => {
		const siteId = c.req.param("siteId");
		agentOf(c);
		return c.json({
			waiting: await siteDispatcher(c.env, siteId).waitingList(),
		});
	})
	.get(`${SITE}/agents`, requireToken, async (c) => {
		const siteId = c.req.param("siteId");
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
	})
	.get(`${SITE}/agents/me/chats`, requireToken, async (c) => {
		const siteId = c.req.param("siteId");
		const agent = agentOf(c);
		return c.json({
			chats: await siteDispatcher(c.env, siteId).chatsOf(agent.id),
		});
	})
	.get(`${SITE}/agents/me/ws`, async (c) => {
		const siteId = c.req.param("siteId");
		const { forward } = await admitUpgrade(c, siteId);
		// The token comes in the hello frame, as on a chat socket.
		return siteDispatcher(c.env, siteId).fetch(
			forward({ [DISPATCHER_SITE_HEADER]: siteId })
		);
	})
	.post(`${CHAT}/join`, limitBody(1024), requireToken, async (c) => {
		const { siteId, chatId } = c.req.param();
		const answer = await siteDispatcher(c.env, siteId).join(
			siteId,
			agentOf(c),
			chatId
		);
		if ("chatState" in answer && "chatId" in answer) return c.json(answer, 200);
		return replyFromRoom(c, answer);
	})
	.post(`${CHAT}/monitor`, limitBody(1024), requireToken, async (c) => {
		const { siteId, chatId } = c.req.param();
		const agent = agentOf(c);
		if (agent.role !== "supervisor")
			throw new ApiError(403, "forbidden", "only supervisors monitor chats");
		// Monitoring changes nothing in the chat: the supervisor reads it (poll, socket) as any chat of its site, and cannot send.
		const caller: Caller = {
			role: "agent",
			id: agent.id,
			name: agent.name,
			siteId,
			chatId,
			agentRole: agent.role,
		};
		return replyFromRoom(
			c,
			await chatRoom(c.env, siteId, chatId).poll(caller, {
				visitorDataOffset: 0,
				agentDataOffset: 0,
			})
		);
	})
	.post(`${CHAT}/invite`, limitBody(1024), requireToken, async (c) => {
		const { siteId, chatId } = c.req.param();
		const { agentId } = await parseJson(c, InviteAgentSchema);
		const answer = await siteDispatcher(c.env, siteId).inviteToChat(
			siteId,
			agentOf(c),
			chatId,
			agentId
		);
		if ("chatId" in answer) return c.json(answer, 200);
		return replyFromRoom(c, answer);
	})
	.post(`${CHAT}/transfer`, limitBody(1024), requireToken, async (c) => {
		const { siteId, chatId } = c.req.param();
		const agent = agentOf(c);
		const { toAgentId } = await parseJson(c, TransferSchema);
		const answer = await siteDispatcher(c.env, siteId).transfer(
			siteId,
			agent,
			chatId,
			toAgentId
		);
		if ("chatState" in answer && "chatId" in answer) return c.json(answer, 200);
		return replyFromRoom(c, answer);
	});
