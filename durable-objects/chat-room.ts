/**
 * One Durable Object per chat: the single writer of its two streams (SPEC §1–3).
 * Every call is answered with the offset protocol: unknown chat → code 1 with −1/−1,
 * server behind the caller → code 1 with its offsets, otherwise apply and answer code 0.
 */
import { DurableObject } from "cloudflare:workers";
import { eventId, publisher } from "../queues/publisher.ts";
import { roomFailure } from "../src/errors.ts";
import { ChatMetaSchema } from "../src/protocol/chat-state.ts";
import { MAX_WAIT_SECONDS } from "../src/protocol/chat.ts";
import {
	CLOSE_NO_HELLO,
	CLOSE_UNAUTHORIZED,
	HELLO_TIMEOUT_MS,
} from "../src/protocol/ws.ts";
import { keyRing } from "../src/security/keys.ts";
import {
	macIsCurrent,
	signMessage,
	verifyMessage,
} from "../src/security/message-mac.ts";
import { open, seal } from "../src/security/sealed-state.ts";
import { sealVisitorState } from "../src/security/visitor-state.ts";
import { ANNOUNCE_RETRY_MS, ChatAnnouncements } from "./chat-announcements.ts";
import { mergeChatMeta } from "./chat-meta.ts";
import {
	ChatLog,
	inDisplayOrder,
	planRebuild,
	streamOf,
} from "./chat-model.ts";
import { ChatStorage } from "./chat-storage.ts";
import { REREGISTER_EVERY_MS } from "./dispatch-model.ts";
import { RoomBans } from "./room-bans.ts";
import { publishCannedUse } from "./room-canned.ts";
import { lostChat } from "./room-contract.ts";
import { RoomDispatch } from "./room-dispatch.ts";
import { RoomFrames } from "./room-frames.ts";
import { attachmentOf, RoomSockets, sendFrame } from "./room-sockets.ts";
import { SerialQueue } from "./serial-queue.ts";
import type { RoomFailure } from "../src/errors.ts";
import type { ChatMeta } from "../src/protocol/chat-state.ts";
import type {
	ChatMessage,
	Offsets,
	RebuildChat,
	ReturnResult,
	SendMessage,
} from "../src/protocol/chat.ts";
import type { Wrapup, WrapupPayload } from "../src/protocol/events.ts";
import type { Chains } from "./chat-chain.ts";
import type { AgentRef, Caller, NewChat, RoomAnswer } from "./room-contract.ts";
import type { BanInForce } from "./visitor-model.ts";

export type { Caller, NewChat, RoomAnswer };

/** A change that came in on a socket: that socket already holds these messages, everyone else is told. */
interface Origin {
	ws: WebSocket;
	has: ReadonlySet<string>;
}

const RATE_WINDOW_MS = 60_000;
/** VISITOR_SEND_LIMIT's limit a minute (wrangler.toml): twice the default per chat. */
const VISITOR_SENDS_ACROSS_CHATS = 120;
/** Long-polls held at once on one chat; a chat has at most a few dozen clients (SPEC §6). */
export const MAX_HELD_POLLS = 64;
const notInChat = () =>
	roomFailure(403, "not_in_chat", "you are not one of this chat's agents");
const secondsUntil = (at: number, now: number) =>
	Math.max(1, Math.ceil((at - now) / 1000));

export class ChatRoom extends DurableObject<Env> {
	private meta: ChatMeta | undefined;
	private chatState: string | undefined;
	private log = new ChatLog();
	private lastSendTime = 0;
	private readonly storage: ChatStorage | undefined;
	/** Writers run one at a time: a send awaits its MAC, and nothing may slip in between offset and append. */
	private readonly writes = new SerialQueue();
	private readonly waiters = new Set<() => void>();
	private readonly sockets: RoomSockets;
	private readonly announcements: ChatAnnouncements;
	private socketFrames: RoomFrames | undefined;
	private readonly dispatch: RoomDispatch;
	/** Whether the chat's visitor is banned (SPEC §7): how the room learns it is in room-bans.ts. */
	private readonly bans: RoomBans;
	/** Agents invited to join (memory mode; durable mode keeps them in storage). */
	private invitedInMemory: string[] = [];
	/** The visitor's refreshed sealed state (its last agent) since the chat's agents last changed (SPEC §4). */
	private visitorState: string | undefined;

	constructor(ctx: DurableObjectState, env: Env) {
		super(ctx, env);
		// Answered by the runtime without waking the room.
		ctx.setWebSocketAutoResponse(
			new WebSocketRequestResponsePair("ping", "pong")
		);
		this.sockets = new RoomSockets(ctx);
		this.dispatch = new RoomDispatch(env);
		this.bans = new RoomBans(env, (promise) => ctx.waitUntil(promise));
		// SQLite calls are synchronous, so loading here needs no blockConcurrencyWhile.
		if (env.CHAT_STATE !== "memory")
			this.storage = new ChatStorage(ctx.storage);
		this.announcements = new ChatAnnouncements(
			(siteId) => publisher(this.env, siteId),
			this.storage,
			(at) => this.scheduleAlarm(at)
		);

		const saved = this.storage?.load();
		if (saved) {
			this.meta = saved.meta;
			this.chatState = saved.chatState;
			this.log = new ChatLog(saved.messages);
			for (const m of saved.messages)
				this.lastSendTime = Math.max(this.lastSendTime, m.sendTime);
		}
	}

	/** A new chat waits for an agent: it enters the site's queue (SPEC §7), and its alarm re-registers it while it waits. */
	async start(
		chat: NewChat
	): Promise<
		| { chatState: string; status: ChatMeta["status"]; queuePosition?: number }
		| RoomFailure
	> {
		const started = await this.writes.run(async () => {
			if (this.meta) return roomFailure(409, "conflict", "chat already exists");
			await this.commit(
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
		await this.scheduleAlarm(Date.now() + REREGISTER_EVERY_MS);
		// Outside the write: the dispatcher may route the chat at once, which calls back into this room.
		await this.dispatch.register(this.meta!);
		const waiting =
			this.meta!.status === "waiting" &&
			this.dispatch.queuePosition !== undefined;
		return {
			chatState: this.chatState!,
			status: this.meta!.status,
			...(waiting ? { queuePosition: this.dispatch.queuePosition } : {}),
		};
	}

	async send(
		caller: Caller,
		offsets: Offsets,
		body: SendMessage,
		chains: Chains = {}
	): Promise<RoomAnswer> {
		return this.applySend(caller, offsets, chains, body);
	}

	private async applySend(
		caller: Caller,
		offsets: Offsets,
		chains: Chains,
		body: SendMessage,
		origin?: WebSocket
	): Promise<RoomAnswer> {
		// Before the write queue: a room that has not heard of its visitor asks the dispatcher, once (room-bans.ts).
		if (caller.role === "visitor" && this.meta?.visitorId === caller.id)
			await this.bans.ready(this.meta);
		let appended = undefined as ChatMessage | undefined;
		const answer = await this.writes.run(async () => {
			const refused = await this.compare(caller, offsets, chains);
			if (refused) return refused;
			const meta = this.meta!;
			const existing = this.log.get(body.id);
			if (existing) return this.answer(offsets, [existing], caller);
			if (meta.status === "ended")
				return roomFailure(409, "chat_ended", "the chat has ended");
			if (body.content.length > meta.limits.maxMessageLength) {
				return roomFailure(
					413,
					"payload_too_large",
					`content is longer than ${meta.limits.maxMessageLength} characters`
				);
			}
			if (caller.role === "visitor") {
				const refused =
					this.bans.refusal() ?? (await this.visitorSendLimit(meta));
				if (refused) return refused;
			}
			const message = await this.newMessage(
				caller,
				[],
				caller.role === "visitor" ? 1 : 2,
				body.id,
				body.content
			);
			await this.commit(
				undefined,
				[message],
				undefined,
				origin && { ws: origin, has: new Set([body.id]) }
			);
			appended = message;
			return this.answer(offsets, [], caller);
		});
		// After the write, and not awaited by the answer (SPEC §4: a canned message from the console is logged).
		if (appended && body.canned && caller.role === "agent")
			this.ctx.waitUntil(
				publishCannedUse(this.env, caller, appended, body.canned)
			);
		return answer;
	}

	/**
	 * SPEC §6: sends per visitor. Counted from the chat's own messages, so neither an eviction nor a
	 * restart resets it; and across the visitor's chats (a visitorId kept by visitorState) by the
	 * Workers rate limit, so a new chat does not either.
	 */
	private async visitorSendLimit(
		meta: ChatMeta
	): Promise<RoomFailure | undefined> {
		const perMinute = meta.limits.messagesPerMinutePerVisitor;
		const now = Date.now();
		if (this.log.countSince("visitor", now - RATE_WINDOW_MS) >= perMinute) {
			const oldest = this.log.at(
				"visitor",
				this.log.offsets.visitorDataOffset - perMinute + 1
			);
			return roomFailure(
				429,
				"rate_limited",
				"too many messages, slow down",
				secondsUntil((oldest?.sendTime ?? now) + RATE_WINDOW_MS, now)
			);
		}
		// The binding's limit is fixed in wrangler.toml: a site that allows more per chat (a load test) is counted per chat only.
		if (perMinute > VISITOR_SENDS_ACROSS_CHATS) return undefined;
		const { success } = await this.env.VISITOR_SEND_LIMIT.limit({
			key: `${meta.siteId}:${meta.visitorId}`,
		});
		return success
			? undefined
			: roomFailure(
					429,
					"rate_limited",
					"too many messages across your chats, slow down",
					60
				);
	}

	/** The dispatcher gives the waiting chat to an agent (routing or an accept): the first one wins. */
	async accept(
		caller: Caller
	): Promise<{ chatId: string; chatState: string } | RoomAnswer> {
		return this.writes.run(async () => {
			if (!this.meta) return lostChat();
			const forbidden = this.authorize(caller, this.meta);
			if (forbidden) return forbidden;
			if (caller.role !== "agent")
				return roomFailure(403, "forbidden", "only agents accept chats");
			const meta = this.meta;
			if (!meta.agentIds.includes(caller.id)) {
				if (meta.status !== "waiting")
					return roomFailure(409, "conflict", "the chat is no longer waiting");
				const notice = await this.newMessage(
					caller,
					[],
					4,
					crypto.randomUUID(),
					`${caller.name ?? "An agent"} joined the chat`
				);
				await this.commit(this.withAgent(meta, caller), [notice]);
			}
			return { chatId: meta.chatId, chatState: this.chatState! };
		});
	}

	/** One of the chat's agents hands it to another (the dispatcher checked the other is online with room). */
	async transfer(
		caller: Caller,
		to: AgentRef
	): Promise<{ chatId: string; chatState: string } | RoomAnswer> {
		return this.writes.run(async () => {
			if (!this.meta) return lostChat();
			const refused =
				this.authorize(caller, this.meta) ?? this.membership(caller, this.meta);
			if (refused) return refused;
			const meta = this.meta;
			if (meta.status !== "chatting")
				return roomFailure(
					409,
					"conflict",
					"only a live chat can be transferred"
				);
			if (meta.agentIds.includes(to.id))
				return roomFailure(
					409,
					"conflict",
					`${to.name} is already in the chat`
				);
			const notice = await this.newMessage(
				caller,
				[],
				4,
				crypto.randomUUID(),
				`${caller.name ?? "An agent"} transferred the chat to ${to.name}`
			);
			const pastAgentIds = [
				...new Set([...(meta.pastAgentIds ?? []), caller.id]),
			];
			const agentIds = [
				...meta.agentIds.filter((id) => id !== caller.id),
				to.id,
			];
			await this.commit(
				{
					...meta,
					v: meta.v + 1,
					agentIds,
					pastAgentIds,
					agentNames: { ...meta.agentNames, [to.id]: to.name },
				},
				[notice]
			);
			return { chatId: meta.chatId, chatState: this.chatState! };
		});
	}

	/**
	 * A supervisor, or an agent one of the chat's agents invited, joins a live chat (SPEC §4): it becomes
	 * one of its agents, with a system message, and sees the whole history.
	 */
	async join(
		caller: Caller
	): Promise<{ chatId: string; chatState: string } | RoomAnswer> {
		return this.writes.run(async () => {
			if (!this.meta) return lostChat();
			const refused = this.authorize(caller, this.meta);
			if (refused) return refused;
			const meta = this.meta;
			if (meta.agentIds.includes(caller.id))
				return { chatId: meta.chatId, chatState: this.chatState! };
			if (meta.status === "ended")
				return roomFailure(409, "chat_ended", "the chat has ended");
			if (
				caller.agentRole !== "supervisor" &&
				!this.invitedAgents().includes(caller.id)
			) {
				return roomFailure(
					403,
					"forbidden",
					"only a supervisor, or an agent the chat's agents invited, may join"
				);
			}
			const notice = await this.newMessage(
				caller,
				[],
				4,
				crypto.randomUUID(),
				`${caller.name ?? "An agent"} joined the chat`
			);
			await this.commit(this.withAgent(meta, caller), [notice]);
			return { chatId: meta.chatId, chatState: this.chatState! };
		});
	}

	/** One of the chat's agents invites another agent, who may then join. Kept beside the chat, not in its sealed state. */
	async inviteAgent(
		caller: Caller,
		agentId: string
	): Promise<{ chatId: string } | RoomAnswer> {
		if (!this.meta) return lostChat();
		const refused =
			this.authorize(caller, this.meta) ?? this.membership(caller, this.meta);
		if (refused) return refused;
		if (this.meta.status === "ended")
			return roomFailure(409, "chat_ended", "the chat has ended");
		if (this.meta.agentIds.includes(agentId))
			return roomFailure(409, "conflict", "that agent is already in the chat");
		const invited = [...new Set([...this.invitedAgents(), agentId])];
		if (this.storage) this.ctx.storage.kv.put("invitedAgents", invited);
		else this.invitedInMemory = invited;
		return { chatId: this.meta.chatId };
	}

	private invitedAgents(): string[] {
		return this.storage
			? (this.ctx.storage.kv.get<string[]>("invitedAgents") ?? [])
			: this.invitedInMemory;
	}

	/** The dispatcher tells the room its visitor was banned (SPEC §7): the visitor's sends are refused from now on. */
	async visitorBanned(visitorId: string, ban: BanInForce): Promise<void> {
		if (this.meta?.visitorId === visitorId) this.bans.banned(ban);
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
			this.meta?.status !== "waiting" ||
			this.dispatch.queuePosition === position
		)
			return;
		this.dispatch.queuePosition = position;
		for (const [ws, caller] of this.sockets.authenticated()) {
			if (caller.role === "visitor")
				sendFrame(ws, {
					type: "state",
					chatState: this.chatState!,
					status: "waiting",
					queuePosition: position,
				});
		}
	}

	async poll(
		caller: Caller,
		offsets: Offsets,
		waitMs = 0,
		chains: Chains = {}
	): Promise<RoomAnswer> {
		const refused = await this.compare(caller, offsets, chains, "read");
		if (refused) return refused;
		if (waitMs > 0 && !this.hasNews(offsets)) {
			if (this.waiters.size >= MAX_HELD_POLLS)
				return roomFailure(
					429,
					"rate_limited",
					"too many long-polls are waiting on this chat",
					5
				);
			await this.waitForNews(Math.min(waitMs, MAX_WAIT_SECONDS * 1000));
		}
		return this.answer(offsets, [], caller);
	}

	/** Idempotent: ending an ended chat announces its end again if that did not reach the queue yet. */
	async end(
		caller: Caller,
		offsets: Offsets,
		chains: Chains = {}
	): Promise<RoomAnswer> {
		const ended = await this.writes.run(async () => {
			const refused = await this.compare(caller, offsets, chains);
			if (refused) return refused;
			const meta = this.meta!;
			if (meta.status !== "ended") {
				const notice = await this.newMessage(
					caller,
					[],
					4,
					crypto.randomUUID(),
					"The chat has ended"
				);
				await this.commit(
					{ ...meta, v: meta.v + 1, status: "ended", endTime: notice.sendTime },
					[notice]
				);
			}
			return undefined;
		});
		if (ended) return ended;
		this.ctx.waitUntil(this.dispatch.ended(this.meta!));
		// Outside the write queue: sends and rebuilds do not wait for the queue's answer.
		if (!(await this.announceEnd())) {
			return roomFailure(
				503,
				"unavailable",
				"the chat has ended but its end could not be queued yet; it is retried, and ending again retries now"
			);
		}
		return this.answer(offsets, [], caller);
	}

	/** A wrap-up by an agent of this chat: kept in the chat (for chat.end) and published as agent.wrapup. */
	async wrapup(
		caller: Caller,
		body: Wrapup
	): Promise<{ uniqueId: string } | RoomAnswer> {
		const kept = await this.writes.run(
			async (): Promise<WrapupPayload | RoomAnswer> => {
				if (!this.meta) return lostChat();
				const forbidden =
					this.authorize(caller, this.meta) ??
					this.membership(caller, this.meta);
				if (forbidden) return forbidden;
				const { id: _id, ...wrapup } = body;
				if (this.meta.status !== "ended")
					await this.commit(
						{
							...this.meta,
							v: this.meta.v + 1,
							wrapup: { agentId: caller.id, ...wrapup },
						},
						[]
					);
				return {
					chatId: this.meta.chatId,
					siteId: this.meta.siteId,
					agentId: caller.id,
					category: body.category ?? null,
					comment: body.comment ?? null,
					wrappedUpAt: Date.now(),
				};
			}
		);
		if (!("wrappedUpAt" in kept)) return kept;
		const uniqueId = eventId(
			"agent.wrapup",
			[kept.siteId, kept.chatId, caller.id],
			body.id
		);
		await publisher(this.env, kept.siteId).publish(
			"agent.wrapup",
			uniqueId,
			kept
		);
		return { uniqueId };
	}

	async rebuild(caller: Caller, body: RebuildChat): Promise<RoomAnswer> {
		return this.applyRebuild(caller, body);
	}

	private async applyRebuild(
		caller: Caller,
		body: RebuildChat,
		origin?: WebSocket
	): Promise<RoomAnswer> {
		const offered =
			body.chatState === undefined
				? undefined
				: await this.openState(caller, body.chatState);
		if (offered === null)
			return roomFailure(403, "invalid_chat_state", "chatState does not open");
		// MACs depend only on the request, so they are checked before queueing behind other writers.
		for (const m of body.messages) {
			if (
				!(await verifyMessage(
					keyRing(this.env),
					caller.siteId,
					caller.chatId,
					m
				))
			) {
				return roomFailure(
					403,
					"invalid_mac",
					`message ${m.id} does not carry a valid mac`
				);
			}
		}
		const answer = await this.writes.run(async (): Promise<RoomAnswer> => {
			const meta = offered ? mergeChatMeta(this.meta, offered) : this.meta;
			if (!meta)
				return roomFailure(
					400,
					"invalid_request",
					"chatState is required to rebuild a chat the server does not have"
				);
			const forbidden = this.authorize(caller, meta);
			if (forbidden) return forbidden;
			// Only a chatState that lists the agent lets it in (SPEC §4): a visitor's older copy cannot keep it out, nor let another in.
			if (caller.role === "agent" && !meta.agentIds.includes(caller.id))
				return notInChat();
			if (!this.meta) this.announcements.markRestored();
			const plan = planRebuild(this.log, body.messages);
			const keys = keyRing(this.env);
			const appends: ChatMessage[] = [];
			const resealed: ChatMessage[] = [];
			for (const { message, resealed: moved } of plan.appends) {
				// senderName is not under the mac: it comes from the sealed state, never from the upload.
				const kept = this.withSenderName(meta, message);
				// A new place needs a new mac; so does a mac of a retired key, before that key leaves PREVIOUS_KEYS.
				const resign = moved || !macIsCurrent(keys, kept.mac);
				const final = resign
					? { ...kept, mac: await this.mac(caller, kept) }
					: kept;
				appends.push(final);
				if (resign) resealed.push(final);
			}
			const metaChanged = meta !== this.meta;
			const uploaded = origin && {
				ws: origin,
				has: new Set(
					appends.filter((m) => !resealed.includes(m)).map((m) => m.id)
				),
			};
			await this.commit(
				metaChanged ? meta : undefined,
				appends,
				meta === offered ? body.chatState : undefined,
				uploaded
			);
			for (const m of appends)
				this.lastSendTime = Math.max(this.lastSendTime, m.sendTime);
			// What the client lacks, every message the room moved, and every uploaded one the room holds otherwise
			// (two deployments accepted the same id at different times): the client takes the room's version.
			const heldOtherwise = body.messages.flatMap((m) => {
				const held = this.log.get(m.id);
				return held &&
					!appends.includes(held) &&
					(held.dataOffset !== m.dataOffset ||
						held.sendTime !== m.sendTime ||
						held.mac !== m.mac)
					? [held]
					: [];
			});
			const result = this.answer(body, [...resealed, ...heldOtherwise], caller);
			if (metaChanged) result.chatState = this.chatState;
			// The client's history still differs below its offsets: it uploads the whole stream and re-reads it (SPEC §3).
			const diverged = await this.log.diverged(body, body);
			if (diverged.length > 0) return { ...result, code: 1, diverged };
			return plan.heldBack > 0 ? { ...result, code: 1 } : result;
		});
		if (!("failure" in answer)) this.noteCaughtUp(caller);
		if (this.meta) await this.announcements.transcript(this.meta, this.log);
		// A waiting chat restored here (eviction in memory mode, another deployment) goes back into the queue, with its first request time.
		if (
			this.meta?.status === "waiting" &&
			this.dispatch.queuePosition === undefined
		) {
			await this.scheduleAlarm(Date.now() + REREGISTER_EVERY_MS);
			this.ctx.waitUntil(this.dispatch.register(this.meta));
		}
		return answer;
	}

	/**
	 * An agent of the chat brought its copy, or found the room not behind it: the copy of a restored chat is
	 * whole now, so an end waiting for that may go out (outside the write queue, like every publish).
	 */
	private noteCaughtUp(caller: Caller): void {
		if (
			caller.role === "agent" &&
			this.announcements.agentCaughtUpNow() &&
			this.meta?.status === "ended"
		)
			this.ctx.waitUntil(this.announceEnd());
	}

	/** chat.end, when the chat has ended; then the alarm is kept only for what is left. */
	private async announceEnd(): Promise<boolean> {
		if (this.meta?.status !== "ended") return true;
		const wasOut = this.announcements.endPublished;
		const out = await this.announcements.end(this.meta, this.log);
		if (!wasOut && this.announcements.endPublished) await this.settleAlarm();
		return out;
	}

	/** The socket code, on the same chat operations as HTTP; made on first use. */
	private get frames(): RoomFrames {
		this.socketFrames ??= new RoomFrames(
			{
				hasChat: () => this.meta !== undefined,
				refusal: (caller) => {
					const refused =
						this.meta &&
						(this.authorize(caller, this.meta) ??
							this.membership(caller, this.meta, "read"));
					return refused && "failure" in refused ? refused : undefined;
				},
				poll: (caller, offsets, chains) =>
					this.poll(caller, offsets, 0, chains),
				send: (caller, offsets, chains, body, origin) =>
					this.applySend(caller, offsets, chains, body, origin),
				rebuild: (caller, body, origin) =>
					this.applyRebuild(caller, body, origin),
				offsets: () => this.log.offsets,
				message: (id) => this.log.get(id),
				scheduleAlarm: (at) => this.scheduleAlarm(at),
			},
			this.sockets,
			this.ctx,
			this.env
		);
		return this.socketFrames;
	}

	/** Only WebSocket upgrades come here (the Worker hands them over); the socket must say hello. */
	async fetch(request: Request): Promise<Response> {
		return this.frames.upgrade(request);
	}

	async webSocketMessage(
		ws: WebSocket,
		raw: string | ArrayBuffer
	): Promise<void> {
		try {
			await this.frames.receive(ws, raw);
		} catch (error) {
			console.error("ChatRoom:webSocketMessage", error);
			sendFrame(ws, {
				type: "error",
				error: { type: "internal_error", message: "something went wrong" },
			});
		}
	}

	async webSocketClose(ws: WebSocket, code: number): Promise<void> {
		this.sockets.forget(ws);
		ws.close(code === 1005 || code === 1006 ? 1000 : code, "closing");
	}

	async webSocketError(ws: WebSocket, error: unknown): Promise<void> {
		this.sockets.forget(ws);
		console.error("ChatRoom:webSocketError", error);
	}

	/**
	 * Closes sockets past their deadline (no hello in 10 s, an expired token), retries a chat.end or
	 * chat.transcript the queue refused; then comes back for the next deadline, never for a past one.
	 */
	async alarm(): Promise<void> {
		const now = Date.now();
		for (const ws of this.sockets.open()) {
			const { caller, connectedAt, expiresAt } = attachmentOf(ws);
			if (!caller && connectedAt + HELLO_TIMEOUT_MS <= now)
				this.sockets.close(ws, CLOSE_NO_HELLO, "no hello");
			else if (caller && expiresAt !== undefined && expiresAt <= now)
				this.sockets.close(ws, CLOSE_UNAUTHORIZED, "token expired");
		}
		if (this.meta?.status === "waiting")
			await this.dispatch.register(this.meta);
		const endOwed = !(await this.announceEnd());
		const transcriptOwed =
			this.meta !== undefined &&
			!(await this.announcements.transcript(this.meta, this.log));
		await this.settleAlarm(
			endOwed || transcriptOwed ? now + ANNOUNCE_RETRY_MS : Infinity
		);
	}

	/** The alarm for the earliest deadline still ahead (a socket's, an owed announcement's, the end's grace), or none. */
	private async settleAlarm(owed = Infinity): Promise<void> {
		const graceUntil =
			this.meta?.status === "ended" && !this.announcements.endPublished
				? this.announcements.endMayGoAt()
				: 0;
		const reregister =
			this.meta?.status === "waiting"
				? Date.now() + REREGISTER_EVERY_MS
				: Infinity;
		const next = Math.min(
			this.sockets.nextDeadline(),
			owed,
			reregister,
			graceUntil > Date.now() ? graceUntil : Infinity
		);
		if (next === Infinity) await this.ctx.storage.deleteAlarm();
		else await this.ctx.storage.setAlarm(Math.max(next, Date.now() + 100));
	}

	/** One alarm serves every deadline: keep the earliest, and never leave one that already passed. */
	private async scheduleAlarm(at: number): Promise<void> {
		const current = await this.ctx.storage.getAlarm();
		if (current === null || current > at || current < Date.now())
			await this.ctx.storage.setAlarm(at);
	}

	/** Steps 1 and 2 of SPEC §3 with the chain check, and the caller's right to this chat. */
	private async compare(
		caller: Caller,
		offsets: Offsets,
		chains: Chains,
		access: "read" | "write" = "write"
	): Promise<RoomAnswer | undefined> {
		if (!this.meta) return lostChat();
		const refused =
			this.authorize(caller, this.meta) ??
			this.membership(caller, this.meta, access);
		if (refused) return refused;
		const server = this.log.offsets;
		const behind =
			offsets.visitorDataOffset > server.visitorDataOffset ||
			offsets.agentDataOffset > server.agentDataOffset;
		const diverged = await this.log.diverged(offsets, chains);
		if (!behind && diverged.length === 0) {
			this.noteCaughtUp(caller);
			return undefined;
		}
		return diverged.length > 0
			? { code: 1, ...server, messages: [], diverged }
			: { code: 1, ...server, messages: [] };
	}

	private authorize(caller: Caller, meta: ChatMeta): RoomFailure | undefined {
		if (meta.siteId !== caller.siteId || meta.chatId !== caller.chatId)
			return roomFailure(403, "forbidden", "not this chat");
		if (caller.role === "visitor" && meta.visitorId !== caller.id)
			return roomFailure(403, "forbidden", "not this chat's visitor");
		return undefined;
	}

	/**
	 * An agent acts in a chat only while it is one of its agents (SPEC §4). A room whose chat came back by
	 * rebuild may have lost it from the list: code 1 then, and the agent's rebuild with its chatState puts it back.
	 * A supervisor may read any chat of its site without joining it (monitoring: no system message, the visitor is not told).
	 */
	private membership(
		caller: Caller,
		meta: ChatMeta,
		access: "read" | "write" = "write"
	): RoomAnswer | undefined {
		if (caller.role !== "agent" || meta.agentIds.includes(caller.id))
			return undefined;
		if (access === "read" && caller.agentRole === "supervisor")
			return undefined;
		return this.announcements.restored
			? { code: 1, ...this.log.offsets, messages: [] }
			: notInChat();
	}

	private hasNews(offsets: Offsets): boolean {
		const server = this.log.offsets;
		return (
			server.visitorDataOffset > offsets.visitorDataOffset ||
			server.agentDataOffset > offsets.agentDataOffset
		);
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

	/** code 0 with every message above the caller's offsets (plus any it must see again), and the chat state when there is news. */
	private answer(
		offsets: Offsets,
		include: ChatMessage[],
		caller: Caller
	): ReturnResult {
		let messages = this.log.above(offsets);
		const missing = include.filter((m) => !messages.includes(m));
		if (missing.length > 0)
			messages = inDisplayOrder([...messages, ...missing]);
		const result: ReturnResult = {
			code: 0,
			...this.log.offsets,
			messages,
			status: this.meta!.status,
		};
		if (
			this.meta!.status === "waiting" &&
			this.dispatch.queuePosition !== undefined
		)
			result.queuePosition = this.dispatch.queuePosition;
		// Every change of the chat's metadata comes with a system message, so the state is news exactly
		// when one is in the answer; a caller with nothing yet (an agent opening the chat) needs it too.
		const fresh =
			offsets.visitorDataOffset === 0 && offsets.agentDataOffset === 0;
		if (fresh || messages.some((m) => m.type === 4)) {
			result.chatState = this.chatState;
			// The visitor's own credential for its next chat: never handed to agents.
			if (this.visitorState && caller.role === "visitor")
				result.visitorState = this.visitorState;
		}
		return result;
	}

	private withAgent(meta: ChatMeta, caller: Caller): ChatMeta {
		const agentNames = caller.name
			? { ...meta.agentNames, [caller.id]: caller.name }
			: meta.agentNames;
		return {
			...meta,
			v: meta.v + 1,
			status: "chatting",
			agentIds: [...meta.agentIds, caller.id],
			agentNames,
			startTime: meta.startTime ?? Date.now(),
		};
	}

	private withSenderName(meta: ChatMeta, message: ChatMessage): ChatMessage {
		const { senderName: _uploaded, ...rest } = message;
		const name =
			message.type !== 1 && message.senderId
				? meta.agentNames[message.senderId]
				: undefined;
		return name ? { ...rest, senderName: name } : rest;
	}

	/** A message the server accepts now: next offset of its stream (after any earlier one of this batch), server time, mac. */
	private async newMessage(
		caller: Caller,
		batch: ChatMessage[],
		type: ChatMessage["type"],
		id: string,
		content: string
	): Promise<ChatMessage> {
		const stream = streamOf({ type });
		const offsets = this.log.offsets;
		const dataOffset =
			(stream === "visitor"
				? offsets.visitorDataOffset
				: offsets.agentDataOffset) +
			batch.filter((m) => streamOf(m) === stream).length +
			1;
		// Never earlier than the previous message, so display order is acceptance order.
		this.lastSendTime = Math.max(Date.now(), this.lastSendTime);
		const message: ChatMessage = {
			id,
			type,
			dataOffset,
			content,
			sendTime: this.lastSendTime,
			mac: "",
		};
		if (type !== 4) {
			message.senderId = caller.id;
			if (caller.name) message.senderName = caller.name;
		}
		message.mac = await this.mac(caller, message);
		return message;
	}

	private mac(caller: Caller, m: ChatMessage): Promise<string> {
		return signMessage(keyRing(this.env), caller.siteId, caller.chatId, m);
	}

	private async openState(
		caller: Caller,
		sealed: string
	): Promise<ChatMeta | null> {
		const parsed = ChatMetaSchema.safeParse(
			await open(this.sealingKeys(), caller.siteId, caller.chatId, sealed)
		);
		if (
			!parsed.success ||
			parsed.data.siteId !== caller.siteId ||
			parsed.data.chatId !== caller.chatId
		)
			return null;
		return parsed.data;
	}

	private sealingKeys() {
		return keyRing(this.env);
	}

	/** Durable first (so a failed write changes nothing), then memory, then everyone listening. */
	private async commit(
		meta: ChatMeta | undefined,
		messages: ChatMessage[],
		sealedAlready?: string,
		origin?: Origin
	): Promise<void> {
		const chatState = meta
			? (sealedAlready ??
				(await seal(this.sealingKeys(), meta.siteId, meta.chatId, meta)))
			: this.chatState;
		const endedNow = meta?.status === "ended" && this.meta?.status !== "ended";
		// The chat's agents changed: the visitor's next chat can go to the same agent (sticky routing, SPEC §7).
		const lastAgentId = meta?.agentIds.at(-1);
		if (meta && lastAgentId && lastAgentId !== this.meta?.agentIds.at(-1))
			this.visitorState = await sealVisitorState(this.env, meta.siteId, {
				visitorId: meta.visitorId,
				lastAgentId,
			});
		// However the chat became ended here (an end call, or a rebuild on a failover deployment that never
		// saw the end), chat.end must go out: the alarm is set with the end, so a crash before publishing loses nothing.
		if (endedNow && !this.announcements.endPublished)
			await this.scheduleAlarm(Date.now() + ANNOUNCE_RETRY_MS);
		this.storage?.save({ meta, chatState, messages });
		// chat.end already took the record out: what comes after reaches persistence as chat.transcript.
		if (messages.length > 0 && this.meta?.status === "ended")
			this.announcements.grewAfterEnd();
		if (meta) {
			this.meta = meta;
			this.chatState = chatState;
		}
		for (const m of messages) this.log.append(m);
		if (messages.length > 0) this.wakeWaiters();
		for (const [ws, caller] of this.sockets.authenticated()) {
			for (const message of messages)
				if (ws !== origin?.ws || !origin.has.has(message.id))
					sendFrame(ws, { type: "message", message });
			if (meta && chatState)
				sendFrame(ws, {
					type: "state",
					chatState,
					status: meta.status,
					...(caller.role === "visitor" && this.visitorState
						? { visitorState: this.visitorState }
						: {}),
				});
			if (endedNow) sendFrame(ws, { type: "ended" });
		}
	}

	private wakeWaiters(): void {
		for (const wake of this.waiters) wake();
	}

	/** Local fault injection for the chaos run (src/routes/debug.ts): the room restarts as after an eviction. */
	async abortForChaos(): Promise<void> {
		this.ctx.abort("chaos");
	}
}
