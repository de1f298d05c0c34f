/**
 * What the dispatcher asks of a chat's room for its agents (SPEC §4, §6, §7): a transfer to another
 * agent, a join, an invitation; and the rooms told of a revoked agent or a banned visitor.
 */
import { roomFailure } from "../src/errors.ts";
import { freeCapacity, statusOf } from "./dispatch-model.ts";
import { agentCaller, chatRoom, handedOver } from "./room-contract.ts";
import type { Offsets } from "../src/protocol/chat.ts";
import type { AgentPresence } from "./dispatch-model.ts";
import type {
	DispatcherParts,
	DispatcherRouting,
} from "./dispatcher-routing.ts";
import type { AcceptAnswer, AgentRef, RoomAnswer } from "./room-contract.ts";
import type { Ban } from "./visitor-model.ts";

export class DispatcherHandover {
	constructor(
		private readonly parts: DispatcherParts,
		private readonly routing: DispatcherRouting
	) {}

	/** Hands the chat from one of its agents to another who is online with room for it (SPEC §7). */
	transfer(
		siteId: string,
		from: AgentRef,
		chatId: string,
		toAgentId: string,
		held?: Offsets
	): Promise<AcceptAnswer> {
		const { state, sockets, news, env } = this.parts;
		return this.routing.run(async () => {
			const to = state.agents.get(toAgentId);
			if (!to || toAgentId === from.id)
				return roomFailure(409, "conflict", "that agent cannot take the chat");
			if (statusOf(to, Date.now()) !== "online")
				return roomFailure(409, "conflict", `${to.name} is not online`);
			if (freeCapacity(to) === 0)
				return roomFailure(
					409,
					"at_capacity",
					`${to.name} has no room for another chat`
				);
			const answer = await chatRoom(env, siteId, chatId).transfer(
				agentCaller(from, siteId, chatId),
				refOf(to),
				held
			);
			if (!handedOver(answer)) return answer;
			const giver = state.agents.get(from.id);
			if (giver)
				state.saveAgent({
					...giver,
					chats: giver.chats.filter((id) => id !== chatId),
				});
			state.saveAgent({
				...to,
				chats: [...to.chats, chatId],
				lastAssignedAt: Date.now(),
			});
			sockets.toAgent(from.id, {
				type: "released",
				chatId,
				reason: "transferred",
			});
			sockets.toAgent(to.id, {
				type: "assigned",
				chatId,
				chatState: answer.chatState,
			});
			news.presenceChanged();
			return { chatId, chatState: answer.chatState };
		});
	}

	/**
	 * A supervisor, or an invited agent, joins the chat (the room checks which): within its maxChats
	 * (SPEC §7, like an accept), and it counts against the agent's load from then on.
	 */
	async join(
		siteId: string,
		agent: AgentRef,
		chatId: string
	): Promise<AcceptAnswer> {
		const { state, sockets, news, env, claims } = this.parts;
		await claims?.settled(agent.id);
		return this.routing.run(async () => {
			const known = state.agents.get(agent.id)!;
			if (!known.chats.includes(chatId) && freeCapacity(known) === 0)
				return roomFailure(
					409,
					"at_capacity",
					`you already have ${known.maxChats} chats`
				);
			const answer = await chatRoom(env, siteId, chatId).join(
				agentCaller(agent, siteId, chatId)
			);
			if (!handedOver(answer)) return answer;
			const now = state.agents.get(agent.id)!;
			if (!now.chats.includes(chatId))
				state.saveAgent({ ...now, chats: [...now.chats, chatId] });
			// A supervisor may join a chat that was still waiting: it leaves the queue.
			const chat = state.chats.get(chatId);
			if (chat?.state === "waiting") {
				state.saveChat({ ...chat, state: "assigned" });
				news.leftQueue(chat, "assigned");
				news.queueChanged();
			}
			sockets.toAgent(agent.id, {
				type: "assigned",
				chatId,
				chatState: answer.chatState,
			});
			news.presenceChanged();
			return answer;
		});
	}

	/**
	 * One of the chat's agents invites another agent of the site (the Worker checked it is one), who
	 * must be online, like the one a chat is transferred to; its consoles are told, and it may then join.
	 */
	async invite(
		siteId: string,
		from: AgentRef,
		chatId: string,
		agentId: string
	): Promise<{ chatId: string } | RoomAnswer> {
		const to = this.parts.state.agents.get(agentId);
		if (!to || statusOf(to, Date.now()) !== "online")
			return roomFailure(
				409,
				"conflict",
				`${to?.name ?? "that agent"} is not online`
			);
		const answer = await chatRoom(this.parts.env, siteId, chatId).inviteAgent(
			agentCaller(from, siteId, chatId),
			agentId
		);
		if ("chatId" in answer)
			this.parts.sockets.toAgent(agentId, {
				type: "invited",
				chatId,
				by: from.name,
			});
		return answer;
	}

	/**
	 * The admin revoked the agent's tokens (SPEC §6): its consoles and its sockets in its chats close
	 * now with 4401 (a room that cannot be reached checks each frame anyway), and it is offline until it logs in again.
	 */
	async revoked(
		siteId: string,
		agentId: string,
		validFrom: number
	): Promise<void> {
		const { state, sockets, news } = this.parts;
		sockets.closeRevoked(agentId, validFrom);
		const agent = state.agents.get(agentId);
		if (!agent) return;
		state.saveAgent({
			...agent,
			declared: "offline",
			sockets: sockets.countOf(agentId),
		});
		news.presenceChanged();
		await Promise.all(
			agent.chats.map((chatId) =>
				chatRoom(this.parts.env, siteId, chatId)
					.closeRevoked(agent.id, validFrom)
					.catch(() => undefined)
			)
		);
	}

	/** The rooms of the visitor's live chats that the dispatcher knows hear of the ban before the answer, any other within a minute (room-bans.ts). */
	async banned(siteId: string, ban: Ban): Promise<void> {
		const chats = [...this.parts.state.chats.values()].filter(
			(chat) => chat.visitorId === ban.visitorId
		);
		await Promise.all(
			chats.map((chat) =>
				chatRoom(this.parts.env, siteId, chat.chatId)
					.visitorBanned(ban.visitorId, {
						until: ban.until,
						reason: ban.reason,
					})
					.catch((error) =>
						console.warn(
							"SiteDispatcher: a room did not hear of a ban (it asks within a minute)",
							chat.chatId,
							error
						)
					)
			)
		);
	}
}

const refOf = (a: AgentPresence): AgentRef => ({
	id: a.id,
	name: a.name,
	role: a.role,
	maxChats: a.maxChats,
});
