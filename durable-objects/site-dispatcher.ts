// Longer than 300 lines because every RPC entry point of the dispatcher is a method of this class; each is a few lines that hand over to a part.
/**
 * One Durable Object per site (SPEC §7): agents' presence and load, the waiting queue and routing.
 * Calls go one way: the dispatcher calls rooms (assign, transfer); rooms tell it about their chats
 * outside their own writes and retry. Its state comes back from its clients when lost.
 * Its parts: dispatcher-routing.ts (the queue, accepts, routing), dispatcher-handover.ts (what it asks
 * of rooms), dispatcher-sockets.ts (consoles), dispatcher-visitors.ts (tracked visitors), dispatcher-news.ts.
 */
import { DurableObject } from "cloudflare:workers";
import { envSettings } from "../src/env-settings.ts";
import { presenceDeadline, statusOf } from "./dispatch-model.ts";
import { DispatcherBans } from "./dispatcher-bans.ts";
import { DispatcherClaims } from "./dispatcher-claims.ts";
import { DispatcherHandover } from "./dispatcher-handover.ts";
import {
	agentSummaries,
	DispatcherNews,
	queueEntries,
} from "./dispatcher-news.ts";
import { DispatcherRouting } from "./dispatcher-routing.ts";
import { DispatcherSockets } from "./dispatcher-sockets.ts";
import { DispatcherState } from "./dispatcher-state.ts";
import {
	DISPATCHER_SOCKET_HEADER,
	DispatcherVisitors,
} from "./dispatcher-visitors.ts";
import { objectName } from "./room-contract.ts";
import type { RoomFailure } from "../src/errors.ts";
import type { Offsets } from "../src/protocol/chat.ts";
import type {
	AgentServerFrame,
	AgentSummary,
	QueueEntry,
} from "../src/protocol/dispatch.ts";
import type { VisitorSummary } from "../src/protocol/visitors.ts";
import type { AgentStatus, WaitingChat } from "./dispatch-model.ts";
import type { AcceptAnswer, AgentRef, RoomAnswer } from "./room-contract.ts";
import type { Ban, BanInForce, Visit } from "./visitor-model.ts";

export class SiteDispatcher extends DurableObject<Env> {
	private readonly state: DispatcherState;
	private readonly sockets: DispatcherSockets;
	/** The tracked visitors and their page sockets; the bans (SPEC §7). */
	private readonly visitors: DispatcherVisitors;
	private readonly bans: DispatcherBans;
	/** Consoles, waiting rooms and the queues hear of changes through this. */
	private readonly news: DispatcherNews;
	private readonly routing: DispatcherRouting;
	private readonly handover: DispatcherHandover;
	/** What consoles say they hold, checked with the rooms before it counts (SPEC §7). */
	private readonly claims: DispatcherClaims;

	constructor(ctx: DurableObjectState, env: Env) {
		super(ctx, env);
		ctx.setWebSocketAutoResponse(
			new WebSocketRequestResponsePair("ping", "pong")
		);
		const storage =
			envSettings(env).CHAT_STATE === "memory" ? undefined : ctx.storage;
		this.state = new DispatcherState(storage);
		this.sockets = new DispatcherSockets(ctx, env, this);
		this.bans = new DispatcherBans(storage, env.DB);
		this.visitors = new DispatcherVisitors(ctx, env, storage, this.bans);
		// Agents behind open consoles are back from the sockets' attachments (a dispatcher that hibernated).
		const hellos = this.sockets.hellos();
		for (const hello of hellos) this.heard(hello.agent, hello.status, false);
		const settleAlarm = () => this.settleAlarm();
		this.news = new DispatcherNews(
			ctx,
			env,
			this.state,
			this.sockets,
			settleAlarm
		);
		const parts = {
			env,
			ctx,
			state: this.state,
			sockets: this.sockets,
			news: this.news,
			settleAlarm,
		};
		this.claims = new DispatcherClaims({
			...parts,
			route: () => this.routing.route(),
		});
		// Every change of an agent's chats: the claims being asked about and the consoles' attachments follow it.
		this.state.onChats = (agentId, added, removed) => {
			this.claims.chatsChanged(agentId, added, removed);
			this.sockets.noteChats(agentId, added, removed);
		};
		this.routing = new DispatcherRouting({ ...parts, claims: this.claims });
		this.handover = new DispatcherHandover(
			{ ...parts, claims: this.claims },
			this.routing
		);
		// Durable mode kept the chats it counted; memory mode asks the rooms about what the consoles hold.
		if (!storage)
			for (const hello of hellos)
				ctx.waitUntil(
					this.claims.claim(
						hello.siteId,
						hello.agent.id,
						hello.agent.maxChats,
						hello.chats
					)
				);
	}

	// ------------------------------------------------------------------ rooms tell

	/** A waiting chat (re-)enters the queue: from the chat start, and from its room every 30 s while it waits. */
	async chatWaiting(
		siteId: string,
		chat: WaitingChat
	): Promise<{ queuePosition?: number }> {
		this.state.noteSite(siteId);
		// A chat that answers an agent's invitation goes to that agent first (SPEC §7 tracking).
		const invitedBy = this.visitors.invitedBy(chat.visitorId, Date.now());
		return this.routing.chatWaiting(invitedBy ? { ...chat, invitedBy } : chat);
	}

	/** The chat ended: its agents have room again, and the next waiting chat may go to them. */
	async chatEnded(siteId: string, chatId: string): Promise<void> {
		this.state.noteSite(siteId);
		this.claims.ended(chatId);
		this.routing.chatEnded(chatId);
	}

	/** The room's agents changed where the dispatcher may not know (dispatcher-routing.ts asks it who has the chat). */
	async chatAgentsChanged(siteId: string, chatId: string): Promise<void> {
		this.state.noteSite(siteId);
		await this.routing.chatAgentsChanged(siteId, chatId);
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
		this.ctx.waitUntil(this.routing.route());
		return { status: statusOf(this.state.agents.get(agent.id)!, Date.now()) };
	}

	/** SPEC §7: the first accept wins (dispatcher-routing.ts). */
	async accept(
		siteId: string,
		agent: AgentRef,
		chatId: string
	): Promise<AcceptAnswer> {
		this.state.noteSite(siteId);
		this.takesChat(agent);
		return this.routing.accept(agent.id, chatId);
	}

	async transfer(
		siteId: string,
		from: AgentRef,
		chatId: string,
		toAgentId: string,
		held?: Offsets
	): Promise<AcceptAnswer> {
		this.state.noteSite(siteId);
		return this.handover.transfer(siteId, from, chatId, toAgentId, held);
	}

	/** Within the agent's maxChats, like an accept (dispatcher-handover.ts). */
	async join(
		siteId: string,
		agent: AgentRef,
		chatId: string
	): Promise<AcceptAnswer> {
		this.state.noteSite(siteId);
		this.takesChat(agent);
		return this.handover.join(siteId, agent, chatId);
	}

	async inviteToChat(
		siteId: string,
		from: AgentRef,
		chatId: string,
		agentId: string
	): Promise<{ chatId: string } | RoomAnswer> {
		this.state.noteSite(siteId);
		return this.handover.invite(siteId, from, chatId, agentId);
	}

	/** The admin revoked the agent's tokens (SPEC §6): dispatcher-handover.ts. */
	async agentRevoked(
		siteId: string,
		agentId: string,
		validFrom: number
	): Promise<void> {
		this.state.noteSite(siteId);
		await this.handover.revoked(siteId, agentId, validFrom);
	}

	/**
	 * The agent signed out (SPEC §7; the Worker revoked the token): that token's consoles close now, and
	 * with no console left the agent is offline at once, not after the heartbeat's 60 s.
	 */
	async signedOut(
		siteId: string,
		agent: AgentRef,
		tokenId: string | undefined
	): Promise<void> {
		this.state.noteSite(siteId);
		if (tokenId !== undefined) this.sockets.closeSession(agent.id, tokenId);
		if (this.sockets.countOf(agent.id) > 0) return;
		this.heard(agent, "offline");
		this.news.presenceChanged();
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
		return this.state.availability(Date.now());
	}

	async chatsOf(
		agentId: string
	): Promise<{ chatId: string; visitorName?: string; requestTime?: number }[]> {
		return this.state.chatsOf(agentId);
	}

	// ------------------------------------------------------------------ sockets

	/**
	 * Visitors' page sockets (dispatcher-visitors.ts, tagged) share the object with the consoles: the Worker
	 * says which this is. The site is the dispatcher's name.
	 */
	async fetch(request: Request): Promise<Response> {
		const siteId = objectName(this.ctx, request);
		if (!siteId)
			return new Response("expected a WebSocket upgrade", { status: 426 });
		if (request.headers.get(DISPATCHER_SOCKET_HEADER) === "visitor")
			return this.visitors.upgrade(request, siteId);
		return this.sockets.upgrade(request, siteId);
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

	/** Console frames land here (dispatcher-sockets.ts), on the same rules as HTTP. The hello's chats are claims (dispatcher-claims.ts). */
	hello(
		siteId: string,
		agent: AgentRef,
		status: AgentStatus,
		chats: string[]
	): void {
		this.state.noteSite(siteId);
		this.heard(agent, status);
		this.news.presenceChanged();
		this.ctx.waitUntil(
			this.claims.claim(siteId, agent.id, agent.maxChats, chats)
		);
		this.ctx.waitUntil(this.routing.route());
	}

	/** A status frame writes and tells only a change: a console repeating itself costs nothing. */
	statusFrame(siteId: string, agent: AgentRef, status: AgentStatus): void {
		if (this.state.agents.get(agent.id)?.declared === status) return;
		this.state.noteSite(siteId);
		this.heard(agent, status);
		this.news.presenceChanged();
		this.ctx.waitUntil(this.routing.route());
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
		return this.news.snapshot();
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
		return this.visitors.invite(siteId, visitorId, agent, message);
	}

	/** The Worker stored the ban in D1 first. The visitor's pages close, and the rooms of its live chats are told. */
	async banVisitor(siteId: string, ban: Ban): Promise<void> {
		this.state.noteSite(siteId);
		this.bans.place(ban);
		this.visitors.banned(ban.visitorId);
		await this.handover.banned(siteId, ban);
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

	// ------------------------------------------------------------------ presence, alarm

	/** An agent was heard from: its console said hello or changed status, or it called the API. */
	private heard(agent: AgentRef, status: AgentStatus, save = true): void {
		this.state.heard(agent, status, this.sockets.countOf(agent.id), save);
	}

	/** An agent that takes a chat (accept, join) is online, or away as it said: its load is counted from then on. */
	private takesChat(agent: AgentRef): void {
		const known = this.state.agents.get(agent.id);
		this.heard(
			agent,
			known && statusOf(known, Date.now()) === "away" ? "away" : "online"
		);
	}

	/** Presence timeouts, hello deadlines and routing retries share the one alarm. */
	async alarm(): Promise<void> {
		this.routing.retryAt = Infinity;
		this.sockets.closeLate();
		this.visitors.closeLate();
		this.news.presenceChanged();
		const siteId = this.ctx.id.name ?? this.state.siteId;
		if (siteId) await this.claims.recheck(siteId, Date.now());
		await this.routing.route();
	}

	private async settleAlarm(): Promise<void> {
		const deadlines = [...this.state.agents.values()]
			.map((a) => presenceDeadline(a) ?? Infinity)
			.filter((at) => at > Date.now());
		const next = Math.min(
			this.routing.retryAt,
			this.sockets.nextDeadline(),
			this.visitors.nextDeadline(),
			this.claims.nextDeadline(),
			...deadlines
		);
		if (next === Infinity) await this.ctx.storage.deleteAlarm();
		else await this.ctx.storage.setAlarm(Math.max(next, Date.now() + 100));
	}

	/** Local fault injection for the chaos run (src/routes/debug.ts): the dispatcher restarts as after an eviction. */
	async abortForChaos(): Promise<void> {
		this.ctx.abort("chaos");
	}
}
