/**
 * One Durable Object per chat: the single writer of its two streams (SPEC §1–3).
 * Every call is answered with the offset protocol: unknown chat → code 1 with −1/−1,
 * server behind the caller → code 1 with its offsets, otherwise apply and answer code 0.
 * The chat's parts: room-core.ts (state, checks, commit), room-send.ts, room-members.ts,
 * room-rebuild.ts, room-end.ts (end, wrap-up, alarm), room-frames.ts (sockets).
 */
import { DurableObject } from "cloudflare:workers";
import { publisher } from "../queues/publisher.ts";
import { envSettings } from "../src/env-settings.ts";
import { roomFailure } from "../src/errors.ts";
import { MAX_WAIT_SECONDS } from "../src/protocol/chat.ts";
import { CLOSE_UNAUTHORIZED } from "../src/protocol/ws.ts";
import { ChatAnnouncements } from "./chat-announcements.ts";
import { ChatStorage } from "./chat-storage.ts";
import { Clock } from "./clock.ts";
import { claimOf, REREGISTER_EVERY_MS } from "./dispatch-model.ts";
import { RoomBans } from "./room-bans.ts";
import { RoomCore } from "./room-core.ts";
import { roomAgentsOf, RoomDispatch } from "./room-dispatch.ts";
import { RoomEnd, scheduleAlarm } from "./room-end.ts";
import { RoomFrames } from "./room-frames.ts";
import { RoomMembers } from "./room-members.ts";
import { rebuildChat } from "./room-rebuild.ts";
import { sendMessage } from "./room-send.ts";
import { RoomSockets, sendFrame } from "./room-sockets.ts";
import type { RoomFailure } from "../src/errors.ts";
import type { ChatMeta } from "../src/protocol/chat-state.ts";
import type {
	Offsets,
	RebuildChat,
	SendMessage,
} from "../src/protocol/chat.ts";
import type { Wrapup } from "../src/protocol/events.ts";
import type { Chains } from "./chat-chain.ts";
import type { Claim, RoomAgents } from "./dispatch-model.ts";
import type { AgentRef, Caller, NewChat, RoomAnswer } from "./room-contract.ts";
import type { BanInForce } from "./visitor-model.ts";

/** Long-polls held at once on one chat; a chat has at most a few dozen clients (SPEC §6). */
const MAX_HELD_POLLS = 64;

export class ChatRoom extends DurableObject<Env> {
	/** The room's deadlines and windows read this clock; tests stop it and move it on (test/room-clock.ts). */
	readonly clock = new Clock();
	private readonly core: RoomCore;
	private readonly waiters = new Set<() => void>();
	private readonly sockets: RoomSockets;
	private readonly announcements: ChatAnnouncements;
	private readonly dispatch: RoomDispatch;
	/** Whether the chat's visitor is banned (SPEC §7): how the room learns it is in room-bans.ts. */
	private readonly bans: RoomBans;
	private readonly members: RoomMembers;
	private readonly ending: RoomEnd;
	private readonly frames: RoomFrames;

	constructor(ctx: DurableObjectState, env: Env) {
		super(ctx, env);
		// Answered by the runtime without waking the room.
		ctx.setWebSocketAutoResponse(
			new WebSocketRequestResponsePair("ping", "pong")
		);
		const durable = envSettings(env).CHAT_STATE !== "memory";
		// SQLite calls are synchronous, so loading here needs no blockConcurrencyWhile.
		const storage = durable ? new ChatStorage(ctx.storage) : undefined;
		const alarmAt = (at: number) => scheduleAlarm(ctx.storage, at);
		this.sockets = new RoomSockets(ctx, this.clock);
		this.dispatch = new RoomDispatch(env, this.clock);
		this.bans = new RoomBans(env, (promise) => ctx.waitUntil(promise));
		// this.env, not env: read at each publish (a test swaps the room's queues).
		this.announcements = new ChatAnnouncements(
			(siteId) => publisher(this.env, siteId),
			storage,
			alarmAt
		);
		this.core = new RoomCore({
			env: () => this.env,
			storage,
			sockets: this.sockets,
			announcements: this.announcements,
			dispatch: this.dispatch,
			bans: this.bans,
			waiters: this.waiters,
			scheduleAlarm: alarmAt,
			waitUntil: (promise) => ctx.waitUntil(promise),
			caughtUp: (caller) => {
				if (caller.role === "agent") this.dispatch.heardFrom(caller.id);
				this.ending.noteCaughtUp(caller);
			},
		});
		this.members = new RoomMembers(
			this.core,
			durable ? ctx.storage.kv : undefined
		);
		this.ending = new RoomEnd(this.core, ctx);
		this.frames = new RoomFrames(
			{
				core: this.core,
				poll: (caller, offsets, chains) =>
					this.poll(caller, offsets, 0, chains),
				send: (caller, offsets, chains, body, origin) =>
					sendMessage(this.core, caller, offsets, chains, body, origin),
				rebuild: (caller, body, origin) =>
					rebuildChat(this.core, caller, body, origin),
			},
			this.sockets,
			ctx,
			env
		);
	}

	/** A new chat waits for an agent: it enters the site's queue (SPEC §7), and its alarm re-registers it while it waits. */
	async start(
		chat: NewChat
	): Promise<
		| { chatState: string; status: ChatMeta["status"]; queuePosition?: number }
		| RoomFailure
	> {
		const core = this.core;
		const started = await core.writes.run(async () => {
			if (core.meta) return roomFailure(409, "conflict", "chat already exists");
			await core.commit(
				{
					...chat,
					v: 1,
					status: "waiting",
					agentIds: [],
					agentNames: {},
					beginTime: Date.now(),
				},
				[]
			);
			return undefined;
		});
		if (started) return started;
		// The Worker asked the dispatcher about a returning visitor before starting; a new visitorId has no ban.
		this.bans.checkedNow();
		await scheduleAlarm(this.ctx.storage, Date.now() + REREGISTER_EVERY_MS);
		// Outside the write: the dispatcher may route the chat at once, which calls back into this room.
		await this.dispatch.register(core.meta!);
		const waiting =
			core.meta!.status === "waiting" &&
			this.dispatch.queuePosition !== undefined;
		return {
			chatState: core.chatState!,
			status: core.meta!.status,
			...(waiting ? { queuePosition: this.dispatch.queuePosition } : {}),
		};
	}

	async send(
		caller: Caller,
		offsets: Offsets,
		body: SendMessage,
		chains: Chains = {}
	): Promise<RoomAnswer> {
		return sendMessage(this.core, caller, offsets, chains, body);
	}

	async poll(
		caller: Caller,
		offsets: Offsets,
		waitMs = 0,
		chains: Chains = {}
	): Promise<RoomAnswer> {
		const refused = await this.core.compare(caller, offsets, chains, "read");
		if (refused) return refused;
		if (waitMs > 0 && !this.core.hasNews(offsets)) {
			if (this.waiters.size >= MAX_HELD_POLLS)
				return roomFailure(
					429,
					"rate_limited",
					"too many long-polls are waiting on this chat",
					5
				);
			await this.waitForNews(Math.min(waitMs, MAX_WAIT_SECONDS * 1000));
		}
		return this.core.answer(offsets, [], caller);
	}

	async rebuild(caller: Caller, body: RebuildChat): Promise<RoomAnswer> {
		return rebuildChat(this.core, caller, body);
	}

	async end(
		caller: Caller,
		offsets: Offsets,
		chains: Chains = {}
	): Promise<RoomAnswer> {
		return this.ending.end(caller, offsets, chains);
	}

	async wrapup(caller: Caller, body: Wrapup) {
		return this.ending.wrapup(caller, body);
	}

	// The chat's agents (room-members.ts): the dispatcher calls these.
	async accept(caller: Caller) {
		return this.members.accept(caller);
	}

	async transfer(caller: Caller, to: AgentRef, held?: Offsets) {
		return this.members.transfer(caller, to, held);
	}

	async join(caller: Caller) {
		return this.members.join(caller);
	}

	async inviteAgent(caller: Caller, agentId: string) {
		return this.members.inviteAgent(caller, agentId);
	}

	/** The dispatcher tells the room its visitor was banned (SPEC §7): the visitor's sends are refused from now on. */
	async visitorBanned(visitorId: string, ban: BanInForce): Promise<void> {
		if (this.core.meta?.visitorId === visitorId) this.bans.banned(ban);
	}

	/** An agent's tokens were revoked (the dispatcher passes the admin's word on): its sockets here close now. */
	async closeRevoked(agentId: string, validFrom: number): Promise<void> {
		for (const [ws, caller] of this.sockets.authenticated()) {
			if (
				caller.role === "agent" &&
				caller.id === agentId &&
				(caller.tokenVersion ?? 0) < validFrom
			)
				this.sockets.close(ws, CLOSE_UNAUTHORIZED, "token revoked");
		}
	}

	/** The dispatcher says where the waiting chat now stands: the visitor's sockets hear it at once, polls with their next answer. */
	async queuePosition(position: number): Promise<void> {
		if (
			this.core.meta?.status !== "waiting" ||
			this.dispatch.queuePosition === position
		)
			return;
		this.dispatch.queuePosition = position;
		for (const [ws, caller] of this.sockets.authenticated()) {
			if (caller.role === "visitor")
				sendFrame(ws, {
					type: "state",
					chatState: this.core.chatState!,
					status: "waiting",
					queuePosition: position,
				});
		}
	}

	/** Only WebSocket upgrades come here (the Worker hands them over); the socket must say hello. */
	async fetch(request: Request): Promise<Response> {
		return this.frames.upgrade(request);
	}

	async webSocketMessage(
		ws: WebSocket,
		raw: string | ArrayBuffer
	): Promise<void> {
		await this.frames.receive(ws, raw);
	}

	async webSocketClose(ws: WebSocket, code: number): Promise<void> {
		this.sockets.forget(ws);
		ws.close(code === 1005 || code === 1006 ? 1000 : code, "closing");
	}

	async webSocketError(ws: WebSocket, error: unknown): Promise<void> {
		this.sockets.forget(ws);
		console.error("ChatRoom:webSocketError", error);
	}

	async alarm(): Promise<void> {
		await this.ending.alarm();
	}

	private waitForNews(ms: number): Promise<void> {
		return new Promise((resolve) => {
			const done = () => {
				clearTimeout(timer);
				this.waiters.delete(done);
				resolve();
			};
			const timer = setTimeout(done, ms);
			this.waiters.add(done);
		});
	}

	/** Local fault injection for the chaos run (src/routes/debug.ts): the room restarts as after an eviction. */
	async abortForChaos(): Promise<void> {
		this.ctx.abort("chaos");
	}

	/** Who has the chat, for the site's dispatcher (RoomDispatch.agentsChanged); undefined when the room has no chat. */
	async agentsNow(): Promise<RoomAgents | undefined> {
		return roomAgentsOf(this.core.meta, this.core.chatState);
	}

	/**
	 * A console's hello claims this chat for its agent (SPEC §7): the dispatcher asks before it counts
	 * it. Read-only: live, stale (ended, transferred away, never the agent's) or unknown (no chat here).
	 */
	async claimOf(agentId: string): Promise<Claim> {
		return claimOf(this.core.meta, agentId, this.announcements.restored);
	}
}
