/**
 * The site's queue and who takes each chat (SPEC §7): chats enter and leave the queue, an agent
 * accepts one, auto mode routes every chat an online agent can take. The room has the last word on
 * every assignment, so a chat never gets two agents.
 */
import { roomFailure } from "../src/errors.ts";
import { getSiteConfig } from "../src/site-config-cache.ts";
import {
	freeCapacity,
	loadChanges,
	planRouting,
	queuePositions,
	routable,
} from "./dispatch-model.ts";
import { agentCaller, chatRoom, handedOver } from "./room-contract.ts";
import { SerialQueue } from "./serial-queue.ts";
import type { AgentPresence, WaitingChat } from "./dispatch-model.ts";
import type { DispatcherClaims } from "./dispatcher-claims.ts";
import type { DispatcherNews } from "./dispatcher-news.ts";
import type { DispatcherSockets } from "./dispatcher-sockets.ts";
import type { DispatchedChat, DispatcherState } from "./dispatcher-state.ts";
import type { AcceptAnswer } from "./room-contract.ts";

/** A room that could not be reached is tried again this much later. */
const RETRY_MS = 5_000;

/** The dispatcher's parts its routing and hand-overs work with. */
export interface DispatcherParts {
	env: Env;
	ctx: DurableObjectState;
	state: DispatcherState;
	sockets: DispatcherSockets;
	news: DispatcherNews;
	settleAlarm(): Promise<void>;
	/** Consoles' claims being checked with rooms: an agent's load is not known until they are. */
	claims?: DispatcherClaims;
}

export class DispatcherRouting {
	/** Assignments run one at a time, so a chat is never handed to two agents. */
	private readonly queue = new SerialQueue();
	/** When a room that could not be reached is tried again. */
	retryAt = Infinity;

	constructor(private readonly parts: DispatcherParts) {}

	run<T>(assign: () => Promise<T>): Promise<T> {
		return this.queue.run(assign);
	}

	/** A waiting chat (re-)enters the queue: from the chat start, and from its room every 30 s while it waits. */
	chatWaiting(chat: WaitingChat): { queuePosition?: number } {
		const { state, news, ctx } = this.parts;
		const held = state.chats.get(chat.chatId);
		// Its room registered it again from the alarm: held long enough, it may be routed now.
		if (held?.state === "waiting" && held.restored && !chat.restored) {
			const { restored: _held, ...free } = held;
			state.saveChat(free);
			ctx.waitUntil(this.route());
		}
		if (!state.chats.has(chat.chatId)) {
			state.saveChat({ ...chat, state: "waiting" });
			news.publish("chatQueue.log", [chat.chatId, "enter"], {
				chatId: chat.chatId,
				event: "enter",
				requestTime: chat.requestTime,
				at: Date.now(),
			});
			news.queueChanged();
			ctx.waitUntil(this.route());
		}
		return { queuePosition: queuePositions(state.waiting()).get(chat.chatId) };
	}

	/** The chat ended: its agents have room again, and the next waiting chat may go to them. */
	chatEnded(chatId: string): void {
		const { state, news, sockets, ctx } = this.parts;
		const chat = state.chats.get(chatId);
		if (chat?.state === "waiting") news.leftQueue(chat, "ended");
		state.dropChat(chatId);
		for (const agent of state.agents.values()) {
			if (!agent.chats.includes(chatId)) continue;
			state.saveAgent({
				...agent,
				chats: agent.chats.filter((id) => id !== chatId),
			});
			sockets.toAgent(agent.id, { type: "released", chatId, reason: "ended" });
		}
		news.queueChanged();
		news.presenceChanged();
		ctx.waitUntil(this.route());
	}

	/**
	 * The room's word on who has a chat, asked in turn with the assignments so it never undoes a newer
	 * one: after a client's copy changed the chat's agents, or while one of them is not heard from
	 * (RoomDispatch). Its agents' consoles are told what changed for them.
	 */
	chatAgentsChanged(siteId: string, chatId: string): Promise<void> {
		const { state, news, sockets, env } = this.parts;
		return this.run(async () => {
			// No chat there (memory mode): its clients rebuild it, and it tells again.
			const room = await chatRoom(env, siteId, chatId).agentsNow();
			if (!room || room.status === "waiting") return;
			if (room.status === "ended") return this.chatEnded(chatId);
			const chat = state.chats.get(chatId);
			if (chat?.state === "waiting") {
				state.saveChat({ ...chat, state: "assigned" });
				news.leftQueue(chat, "assigned");
				news.queueChanged();
			}
			const { gains, loses } = loadChanges(state.agents.values(), chatId, room);
			for (const agentId of loses) {
				this.unreserve(agentId, chatId);
				sockets.toAgent(agentId, {
					type: "released",
					chatId,
					reason: "transferred",
				});
			}
			for (const agentId of gains) {
				const agent = state.agents.get(agentId)!;
				state.saveAgent({ ...agent, chats: [...agent.chats, chatId] });
			}
			// Every agent the room lists hears it again: a console that missed its `assigned` (its socket was
			// going away, or on another deployment) takes the chat now; one that has it ignores the frame.
			for (const agentId of room.agentIds)
				if (state.agents.has(agentId))
					sockets.toAgent(agentId, {
						type: "assigned",
						chatId,
						chatState: room.chatState,
					});
			if (gains.length + loses.length > 0) news.presenceChanged();
		});
	}

	/** SPEC §7: the first accept wins; a chat no longer waiting is 409 conflict, an agent at its maxChats 409 at_capacity. */
	async accept(agentId: string, chatId: string): Promise<AcceptAnswer> {
		const { state, claims } = this.parts;
		// Its capacity is counted once the rooms said which of its console's chats are its own.
		await claims?.settled(agentId);
		return this.run(async () => {
			const presence = state.agents.get(agentId)!;
			const chat = state.chats.get(chatId);
			// Already taken, maybe by this agent (a retried accept): the room says, and nothing is reserved.
			if (presence.chats.includes(chatId) || (chat && chat.state !== "waiting"))
				return this.askRoom(presence, chatId);
			if (freeCapacity(presence) === 0)
				return roomFailure(
					409,
					"at_capacity",
					`you already have ${presence.maxChats} chats`
				);
			// A dispatcher that lost its state may not know the chat: the room, which does, decides.
			return this.assignInRoom(chat ?? unknownChat(chatId), presence);
		});
	}

	/** Auto mode: every waiting chat an online agent can take goes to one (SPEC §7), oldest first. */
	route(): Promise<void> {
		const { state, env } = this.parts;
		return this.run(async () => {
			const siteId = state.siteId;
			if (!siteId || state.waiting().length === 0) return;
			const config = await getSiteConfig(env.SITE_CONFIG, siteId);
			if (config?.routing.mode !== "auto") return;
			// An agent whose console's chats are still being checked has an unknown load: it waits for the answers.
			const known = [...state.agents.values()].filter(
				(a) => !this.parts.claims?.isChecking(a.id)
			);
			const plan = planRouting(
				known,
				routable(
					state.waiting(),
					this.parts.claims?.claimedChats() ?? new Set()
				),
				config.routing.sticky,
				Date.now()
			);
			await Promise.all(
				plan.map(({ chat, agent }) =>
					this.assignInRoom(chat as DispatchedChat, state.agents.get(agent.id)!)
				)
			);
		});
	}

	/**
	 * Reserves the chat for the agent, then has the room add it (system message, new chatState). The
	 * room is the last word: it refuses a chat that is no longer waiting, so no chat gets two agents.
	 */
	private async assignInRoom(
		chat: DispatchedChat,
		agent: AgentPresence
	): Promise<AcceptAnswer> {
		const { state, news, sockets, env } = this.parts;
		const siteId = state.siteId!;
		const wasWaiting = chat.state === "waiting" && state.chats.has(chat.chatId);
		const reserved = {
			...agent,
			chats: agent.chats.includes(chat.chatId)
				? agent.chats
				: [...agent.chats, chat.chatId],
			lastAssignedAt: Date.now(),
		};
		state.saveAgent(reserved);
		state.saveChat({ ...chat, state: "assigning" });
		const caller = agentCaller(agent, siteId, chat.chatId);
		let answer: AcceptAnswer;
		try {
			answer = await chatRoom(env, siteId, chat.chatId).accept(caller);
		} catch (error) {
			console.warn("SiteDispatcher: room unreachable", chat.chatId, error);
			this.unreserve(agent.id, chat.chatId);
			if (wasWaiting) state.saveChat({ ...chat, state: "waiting" });
			else state.dropChat(chat.chatId);
			await this.retryLater();
			return roomFailure(
				503,
				"unavailable",
				"the chat could not be reached, try again",
				1
			);
		}
		if (handedOver(answer)) {
			state.saveChat({ ...chat, state: "assigned" });
			if (wasWaiting) news.leftQueue(chat, "assigned");
			sockets.toAgent(agent.id, {
				type: "assigned",
				chatId: chat.chatId,
				chatState: answer.chatState,
			});
			news.queueChanged();
			news.presenceChanged();
			return { chatId: chat.chatId, chatState: answer.chatState };
		}
		// Taken, ended, or lost by its room (memory mode): it leaves the queue; a restored room registers it again.
		this.unreserve(agent.id, chat.chatId);
		state.dropChat(chat.chatId);
		if (wasWaiting) news.leftQueue(chat, "gone");
		news.queueChanged();
		return answer;
	}

	private async askRoom(
		agent: AgentPresence,
		chatId: string
	): Promise<AcceptAnswer> {
		const { state, env } = this.parts;
		const caller = agentCaller(agent, state.siteId!, chatId);
		const answer = await chatRoom(env, caller.siteId, chatId).accept(caller);
		const now = state.agents.get(agent.id)!;
		if (handedOver(answer)) {
			if (!now.chats.includes(chatId))
				state.saveAgent({ ...now, chats: [...now.chats, chatId] });
		} else if ("failure" in answer && now.chats.includes(chatId))
			// The room says it is not the agent's (ended, transferred away): it no longer counts.
			this.unreserve(agent.id, chatId);
		return answer;
	}

	private unreserve(agentId: string, chatId: string): void {
		const { state } = this.parts;
		const agent = state.agents.get(agentId);
		if (agent)
			state.saveAgent({
				...agent,
				chats: agent.chats.filter((id) => id !== chatId),
			});
	}

	private async retryLater(): Promise<void> {
		this.retryAt = Math.min(this.retryAt, Date.now() + RETRY_MS);
		await this.parts.settleAlarm();
	}
}

/** A chat a dispatcher that lost its state hears of first by an accept: the room knows the rest. */
const unknownChat = (chatId: string): DispatchedChat => ({
	chatId,
	visitorId: "",
	requestTime: Date.now(),
	state: "waiting",
});
