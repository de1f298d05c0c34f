/**
 * One Durable Object per site (SPEC §7): agents' presence and load, the waiting queue and routing.
 * Calls go one way: the dispatcher calls rooms (assign, transfer); rooms tell it about their chats
 * outside their own writes and retry. Its state comes back from its clients when lost.
 */
import { DurableObject } from "cloudflare:workers";
import { roomFailure } from "../src/errors.ts";
import { getSiteConfig } from "../src/site-config-cache.ts";
import {
	freeCapacity,
	planRouting,
	presenceDeadline,
	queuePositions,
	statusOf,
} from "./dispatch-model.ts";
import { DispatcherBans } from "./dispatcher-bans.ts";
import {
	agentSummaries,
	DispatcherNews,
	queueEntries,
} from "./dispatcher-news.ts";
import { DispatcherSockets } from "./dispatcher-sockets.ts";
import { DispatcherState } from "./dispatcher-state.ts";
import {
	DISPATCHER_SOCKET_HEADER,
	DispatcherVisitors,
} from "./dispatcher-visitors.ts";
import { chatRoom } from "./room-contract.ts";
import { SerialQueue } from "./serial-queue.ts";
import type { RoomFailure } from "../src/errors.ts";
import type {
	AgentServerFrame,
	AgentSummary,
	QueueEntry,
} from "../src/protocol/dispatch.ts";
import type { VisitorSummary } from "../src/protocol/visitors.ts";
import type {
	AgentPresence,
	AgentStatus,
	WaitingChat,
} from "./dispatch-model.ts";
import type { DispatchedChat } from "./dispatcher-state.ts";
import type { AgentRef, Caller, RoomAnswer } from "./room-contract.ts";
import type { Ban, BanInForce, Visit } from "./visitor-model.ts";

/** A room that could not be reached is tried again this much later. */
const RETRY_MS = 5_000;

/** The chat with its new state, a refusal, or the room's code 1 when it lost the chat (the visitor's rebuild brings it back). */
export type AcceptAnswer = { chatId: string; chatState: string } | RoomAnswer;

export class SiteDispatcher extends DurableObject<Env> {
	private readonly state: DispatcherState;
	private readonly sockets: DispatcherSockets;
	/** The tracked visitors and their page sockets; the bans (SPEC §7). */
	private readonly visitors: DispatcherVisitors;
	private readonly bans: DispatcherBans;
	/** Consoles, waiting rooms and the queues hear of changes through this. */
	private readonly news: DispatcherNews;
	/** Assignments run one at a time, so a chat is never handed to two agents. */
	private readonly routing = new SerialQueue();
	private retryAt = Infinity;

	constructor(ctx: DurableObjectState, env: Env) {
		super(ctx, env);
		ctx.setWebSocketAutoResponse(
			new WebSocketRequestResponsePair("ping", "pong")
		);
		this.state = new DispatcherState(
			env.CHAT_STATE === "memory" ? undefined : ctx.storage
		);
		this.sockets = new DispatcherSockets(ctx, env, this);
		this.bans = new DispatcherBans(
			env.CHAT_STATE === "memory" ? undefined : ctx.storage,
			env.DB
		);
		this.visitors = new DispatcherVisitors(
			ctx,
			env,
			env.CHAT_STATE === "memory" ? undefined : ctx.storage,
			this.bans
		);
		// Agents behind open consoles are back from the sockets' attachments (a memory-mode dispatcher that hibernated).
		for (const hello of this.sockets.hellos())
			this.heard(hello.agent, hello.status, hello.chats, false);
		this.news = new DispatcherNews(ctx, env, this.state, this.sockets, () =>
			this.settleAlarm()
		);
	}

	// ------------------------------------------------------------------ rooms tell

	/** A waiting chat (re-)enters the queue: from the chat start, and from its room every 30 s while it waits. */
	async chatWaiting(
		siteId: string,
		chat: WaitingChat
	): Promise<{ queuePosition?: number }> {
		this.state.noteSite(siteId);
		const known = this.state.chats.get(chat.chatId);
		if (!known) {
			this.state.saveChat({ ...chat, state: "waiting" });
			this.news.publish("chatQueue.log", [chat.chatId, "enter"], {
				chatId: chat.chatId,
				event: "enter",
				requestTime: chat.requestTime,
				at: Date.now(),
			});
			this.news.queueChanged();
			this.ctx.waitUntil(this.route());
		}
		return {
			queuePosition: queuePositions(this.state.waiting()).get(chat.chatId),
		};
	}

	/** The chat ended: its agents have room again, and the next waiting chat may go to them. */
	async chatEnded(siteId: string, chatId: string): Promise<void> {
		this.state.noteSite(siteId);
		const chat = this.state.chats.get(chatId);
		if (chat?.state === "waiting") this.news.leftQueue(chat, "ended");
		this.state.dropChat(chatId);
		for (const agent of this.state.agents.values()) {
			if (!agent.chats.includes(chatId)) continue;
			this.state.saveAgent({
				...agent,
				chats: agent.chats.filter((id) => id !== chatId),
			});
			this.sockets.toAgent(agent.id, {
				type: "released",
				chatId,
				reason: "ended",
			});
		}
		this.news.queueChanged();
		this.news.presenceChanged();
		this.ctx.waitUntil(this.route());
	}

	// ------------------------------------------------------------------ agents ask

	/** `PUT …/agents/me/status`: also the heartbeat of a console without a socket. */
	async setStatus(
		siteId: string,
		agent: AgentRef,
		status: AgentStatus
	): Promise<{ status: AgentStatus }> {
		this.state.noteSite(siteId);
		this.heard(agent, status);
		this.news.presenceChanged();
		this.ctx.waitUntil(this.route());
		return { status: statusOf(this.state.agents.get(agent.id)!, Date.now()) };
	}

	/** SPEC §7: the first accept wins; a chat no longer waiting is 409 conflict, an agent at its maxChats 409 at_capacity. */
	async accept(
		siteId: string,
		agent: AgentRef,
		chatId: string
	): Promise<AcceptAnswer> {
		this.state.noteSite(siteId);
		// Accepting makes an offline agent online.
		const known = this.state.agents.get(agent.id);
		this.heard(
			agent,
			known && statusOf(known, Date.now()) === "away" ? "away" : "online"
		);
		return this.routing.run(async () => {
			const presence = this.state.agents.get(agent.id)!;
			const chat = this.state.chats.get(chatId);
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

	/** Hands the chat from one of its agents to another who is online with room for it (SPEC §7). */
	async transfer(
		siteId: string,
		from: AgentRef,
		chatId: string,
		toAgentId: string
	): Promise<AcceptAnswer> {
		this.state.noteSite(siteId);
		return this.routing.run(async () => {
			const to = this.state.agents.get(toAgentId);
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
			const caller: Caller = {
				role: "agent",
				id: from.id,
				name: from.name,
				siteId,
				chatId,
			};
			const answer = await chatRoom(this.env, siteId, chatId).transfer(
				caller,
				refOf(to)
			);
			if (!("chatState" in answer && "chatId" in answer)) return answer;
			const giver = this.state.agents.get(from.id);
			if (giver)
				this.state.saveAgent({
					...giver,
					chats: giver.chats.filter((id) => id !== chatId),
				});
			this.state.saveAgent({
				...to,
				chats: [...to.chats, chatId],
				lastAssignedAt: Date.now(),
			});
			this.sockets.toAgent(from.id, {
				type: "released",
				chatId,
				reason: "transferred",
			});
			this.sockets.toAgent(to.id, {
				type: "assigned",
				chatId,
				chatState: answer.chatState,
			});
			this.news.presenceChanged();
			return { chatId, chatState: answer.chatState };
		});
	}

	/** A supervisor, or an invited agent, joins the chat (the room checks which): it counts against the agent's load from now on. */
	async join(
		siteId: string,
		agent: AgentRef,
		chatId: string
	): Promise<AcceptAnswer> {
		this.state.noteSite(siteId);
		return this.routing.run(async () => {
			const caller: Caller = {
				role: "agent",
				id: agent.id,
				name: agent.name,
				siteId,
				chatId,
				agentRole: agent.role,
			};
			const answer = await chatRoom(this.env, siteId, chatId).join(caller);
			if (!("chatState" in answer && "chatId" in answer)) return answer;
			const known = this.state.agents.get(agent.id);
			if (known && !known.chats.includes(chatId))
				this.state.saveAgent({ ...known, chats: [...known.chats, chatId] });
			// A supervisor may join a chat that was still waiting: it leaves the queue.
			const chat = this.state.chats.get(chatId);
			if (chat?.state === "waiting") {
				this.state.saveChat({ ...chat, state: "assigned" });
				this.news.leftQueue(chat, "assigned");
				this.news.queueChanged();
			}
			this.sockets.toAgent(agent.id, {
				type: "assigned",
				chatId,
				chatState: answer.chatState,
			});
			this.news.presenceChanged();
			return answer;
		});
	}

	/** One of the chat's agents invites another agent of the site, whose consoles are told; it may then join. */
	async inviteToChat(
		siteId: string,
		from: AgentRef,
		chatId: string,
		agentId: string
	): Promise<{ chatId: string } | RoomAnswer> {
		this.state.noteSite(siteId);
		const caller: Caller = {
			role: "agent",
			id: from.id,
			name: from.name,
			siteId,
			chatId,
		};
		const answer = await chatRoom(this.env, siteId, chatId).inviteAgent(
			caller,
			agentId
		);
		if ("chatId" in answer)
			this.sockets.toAgent(agentId, { type: "invited", chatId, by: from.name });
		return answer;
	}

	/**
	 * The admin revoked the agent's tokens (SPEC §6): its consoles and its sockets in its chats close
	 * now with 4401, and it is offline until it logs in again.
	 */
	async agentRevoked(
		siteId: string,
		agentId: string,
		validFrom: number
	): Promise<void> {
		this.state.noteSite(siteId);
		this.sockets.closeRevoked(agentId, validFrom);
		const agent = this.state.agents.get(agentId);
		if (!agent) return;
		this.state.saveAgent({
			...agent,
			declared: "offline",
			sockets: this.sockets.countOf(agentId),
		});
		this.news.presenceChanged();
		await Promise.all(
			agent.chats.map((chatId) =>
				chatRoom(this.env, siteId, chatId)
					.closeRevoked(agentId, validFrom)
					.catch(() => undefined)
			)
		);
	}

	// ------------------------------------------------------------------ what the site looks like

	/** Not `queue`: that name is the runtime's Queue consumer handler, which RPC does not reach. */
	async waitingList(): Promise<QueueEntry[]> {
		return queueEntries(this.state);
	}

	async presence(): Promise<AgentSummary[]> {
		return agentSummaries(this.state, Date.now());
	}

	async availability(): Promise<{ online: boolean; waiting: number }> {
		const now = Date.now();
		return {
			online: [...this.state.agents.values()].some(
				(a) => statusOf(a, now) === "online"
			),
			waiting: this.state.waiting().length,
		};
	}

	async chatsOf(
		agentId: string
	): Promise<{ chatId: string; visitorName?: string; requestTime?: number }[]> {
		const agent = this.state.agents.get(agentId);
		return (agent?.chats ?? []).map((chatId) => {
			const chat = this.state.chats.get(chatId);
			return {
				chatId,
				visitorName: chat?.visitorName,
				requestTime: chat?.requestTime,
			};
		});
	}

	// ------------------------------------------------------------------ agent sockets

	/** Visitors' page sockets (dispatcher-visitors.ts, tagged) share the object with the consoles: the Worker says which this is. */
	async fetch(request: Request): Promise<Response> {
		if (request.headers.get(DISPATCHER_SOCKET_HEADER) === "visitor")
			return this.visitors.upgrade(request);
		return this.sockets.upgrade(request);
	}

	async webSocketMessage(
		ws: WebSocket,
		raw: string | ArrayBuffer
	): Promise<void> {
		if (this.visitors.owns(ws)) return this.visitors.receive(ws, raw);
		await this.sockets.receive(ws, raw);
	}

	async webSocketClose(ws: WebSocket, code: number): Promise<void> {
		if (this.visitors.owns(ws)) return this.visitors.closed(ws, code);
		this.sockets.closed(ws, code);
	}

	async webSocketError(ws: WebSocket): Promise<void> {
		if (this.visitors.owns(ws)) return this.visitors.closed(ws, 1011);
		this.sockets.closed(ws, 1011);
	}

	/** Console frames land here (dispatcher-sockets.ts), on the same rules as HTTP. */
	hello(agent: AgentRef, status: AgentStatus, chats: string[]): void {
		this.heard(agent, status, chats);
		this.news.presenceChanged();
		this.ctx.waitUntil(this.route());
	}

	/** A console went away: with none left, the agent stays online for the heartbeat timeout, then goes offline. */
	consoleLeft(agentId: string): void {
		const agent = this.state.agents.get(agentId);
		if (!agent) return;
		this.state.saveAgent({
			...agent,
			sockets: this.sockets.countOf(agentId),
			lastSeen: Date.now(),
		});
		this.news.presenceChanged();
	}

	/** What a new console is shown first. */
	async snapshot(): Promise<AgentServerFrame[]> {
		return [
			{ type: "presence", agents: await this.presence() },
			{ type: "queue", waiting: await this.waitingList() },
		];
	}

	// ------------------------------------------------------------------ visitors: tracking, invitations, bans; private messages
	// SPEC §4, §7. The entry points only: the rules live in dispatcher-visitors.ts, dispatcher-bans.ts, visitor-model.ts.

	/** A page view (`POST …/visits`): the visitor goes on the tracked list, the oldest make room. */
	async visit(
		siteId: string,
		visit: Visit,
		maxTracked: number
	): Promise<{ tracked: boolean }> {
		this.state.noteSite(siteId);
		return this.visitors.track(visit, maxTracked);
	}

	/** `GET …/visitors`: the tracked list, with whether each visitor has a live chat. */
	async trackedVisitors(): Promise<VisitorSummary[]> {
		return this.visitors.visitorList(
			new Set([...this.state.chats.values()].map((chat) => chat.visitorId))
		);
	}

	async inviteVisitor(
		siteId: string,
		agent: AgentRef,
		visitorId: string,
		message: string
	): Promise<{ delivered: number } | RoomFailure> {
		this.state.noteSite(siteId);
		return this.visitors.invite(siteId, visitorId, agent.name, message);
	}

	/**
	 * The Worker stored the ban in D1 first. The visitor's pages close; the rooms of its live chats
	 * that the dispatcher knows hear of it before the answer, any other within a minute (room-bans.ts).
	 */
	async banVisitor(siteId: string, ban: Ban): Promise<void> {
		this.state.noteSite(siteId);
		this.bans.place(ban);
		this.visitors.banned(ban.visitorId);
		const chats = [...this.state.chats.values()].filter(
			(chat) => chat.visitorId === ban.visitorId
		);
		await Promise.all(
			chats.map((chat) =>
				chatRoom(this.env, siteId, chat.chatId)
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

	/** Asked by the Worker before a returning visitor's chat starts, and by a room that has not heard of its visitor. */
	async visitorBan(
		siteId: string,
		visitorId: string
	): Promise<BanInForce | null> {
		this.state.noteSite(siteId);
		return this.bans.check(siteId, visitorId);
	}

	/** To every console of the agent; answers how many it reached (none: the agent has no console open). */
	async privateMessage(
		siteId: string,
		from: AgentRef,
		toAgentId: string,
		message: string
	): Promise<{ delivered: number }> {
		this.state.noteSite(siteId);
		this.sockets.toAgent(toAgentId, {
			type: "private",
			from: from.id,
			message,
		});
		return { delivered: this.sockets.countOf(toAgentId) };
	}

	// ------------------------------------------------------------------ routing

	/** Auto mode: every waiting chat an online agent can take goes to one (SPEC §7), oldest first. */
	private route(): Promise<void> {
		return this.routing.run(async () => {
			const siteId = this.state.siteId;
			if (!siteId || this.state.waiting().length === 0) return;
			const config = await getSiteConfig(this.env.SITE_CONFIG, siteId);
			if (config?.routing.mode !== "auto") return;
			const plan = planRouting(
				this.state.agents.values(),
				this.state.waiting(),
				config.routing.sticky,
				Date.now()
			);
			await Promise.all(
				plan.map(({ chat, agent }) =>
					this.assignInRoom(
						chat as DispatchedChat,
						this.state.agents.get(agent.id)!
					)
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
		const siteId = this.state.siteId!;
		const wasWaiting =
			chat.state === "waiting" && this.state.chats.has(chat.chatId);
		const reserved = {
			...agent,
			chats: agent.chats.includes(chat.chatId)
				? agent.chats
				: [...agent.chats, chat.chatId],
			lastAssignedAt: Date.now(),
		};
		this.state.saveAgent(reserved);
		this.state.saveChat({ ...chat, state: "assigning" });
		const caller: Caller = {
			role: "agent",
			id: agent.id,
			name: agent.name,
			siteId,
			chatId: chat.chatId,
		};
		let answer: Awaited<ReturnType<ReturnType<typeof chatRoom>["accept"]>>;
		try {
			answer = await chatRoom(this.env, siteId, chat.chatId).accept(caller);
		} catch (error) {
			console.warn("SiteDispatcher: room unreachable", chat.chatId, error);
			this.unreserve(agent.id, chat.chatId);
			if (wasWaiting) this.state.saveChat({ ...chat, state: "waiting" });
			else this.state.dropChat(chat.chatId);
			await this.retryLater();
			return roomFailure(
				503,
				"unavailable",
				"the chat could not be reached, try again",
				1
			);
		}
		if ("chatState" in answer && "chatId" in answer) {
			this.state.saveChat({ ...chat, state: "assigned" });
			if (wasWaiting) this.news.leftQueue(chat, "assigned");
			this.sockets.toAgent(agent.id, {
				type: "assigned",
				chatId: chat.chatId,
				chatState: answer.chatState,
			});
			this.news.queueChanged();
			this.news.presenceChanged();
			return { chatId: chat.chatId, chatState: answer.chatState };
		}
		// Taken, ended, or lost by its room (memory mode): it leaves the queue; a restored room registers it again.
		this.unreserve(agent.id, chat.chatId);
		this.state.dropChat(chat.chatId);
		if (wasWaiting) this.news.leftQueue(chat, "gone");
		this.news.queueChanged();
		return answer;
	}

	private async askRoom(
		agent: AgentPresence,
		chatId: string
	): Promise<AcceptAnswer> {
		const caller: Caller = {
			role: "agent",
			id: agent.id,
			name: agent.name,
			siteId: this.state.siteId!,
			chatId,
		};
		const answer = await chatRoom(this.env, caller.siteId, chatId).accept(
			caller
		);
		if (
			"chatState" in answer &&
			"chatId" in answer &&
			!agent.chats.includes(chatId)
		)
			this.state.saveAgent({ ...agent, chats: [...agent.chats, chatId] });
		return answer;
	}

	private unreserve(agentId: string, chatId: string): void {
		const agent = this.state.agents.get(agentId);
		if (agent)
			this.state.saveAgent({
				...agent,
				chats: agent.chats.filter((id) => id !== chatId),
			});
	}

	// ------------------------------------------------------------------ presence, queue, alarm

	/** An agent was heard from: its console said hello or changed status, or it called the API. */
	private heard(
		agent: AgentRef,
		status: AgentStatus,
		chats: string[] = [],
		save = true
	): void {
		const known = this.state.agents.get(agent.id);
		const presence: AgentPresence = {
			...agent,
			declared: status,
			lastSeen: Date.now(),
			sockets: this.sockets.countOf(agent.id),
			// A console's hello brings back the chats a dispatcher that lost its state no longer knows.
			chats: [...new Set([...(known?.chats ?? []), ...chats])],
			lastAssignedAt: known?.lastAssignedAt ?? 0,
		};
		if (save) this.state.saveAgent(presence);
		else this.state.agents.set(agent.id, presence);
	}

	private async retryLater(): Promise<void> {
		this.retryAt = Math.min(this.retryAt, Date.now() + RETRY_MS);
		await this.settleAlarm();
	}

	/** Presence timeouts, hello deadlines and routing retries share the one alarm. */
	async alarm(): Promise<void> {
		this.retryAt = Infinity;
		this.sockets.closeLate();
		this.visitors.closeLate();
		this.news.presenceChanged();
		await this.route();
	}

	private async settleAlarm(): Promise<void> {
		const deadlines = [...this.state.agents.values()]
			.map((a) => presenceDeadline(a) ?? Infinity)
			.filter((at) => at > Date.now());
		const next = Math.min(
			this.retryAt,
			this.sockets.nextDeadline(),
			this.visitors.nextDeadline(),
			...deadlines
		);
		if (next === Infinity) await this.ctx.storage.deleteAlarm();
		else await this.ctx.storage.setAlarm(Math.max(next, Date.now() + 100));
	}
}

const refOf = (a: AgentPresence): AgentRef => ({
	id: a.id,
	name: a.name,
	role: a.role,
	maxChats: a.maxChats,
});

/** A chat a dispatcher that lost its state hears of first by an accept: the room knows the rest. */
const unknownChat = (chatId: string): DispatchedChat => ({
	chatId,
	visitorId: "",
	requestTime: Date.now(),
	state: "waiting",
});
