/**
 * One Durable Object per chat: the single writer of its two streams (SPEC §1–3).
 * Every call is answered with the offset protocol: unknown chat → code 1 with −1/−1,
 * server behind the caller → code 1 with its offsets, otherwise apply and answer code 0.
 */
import { DurableObject } from "cloudflare:workers";
import type { ChatMessage, Offsets, RebuildChat, ReturnResult, SendMessage } from "../src/protocol/chat.ts";
import { ChatMetaSchema, type ChatMeta } from "../src/protocol/chat-state.ts";
import { roomFailure, type RoomFailure } from "../src/errors.ts";
import { signMessage, verifyMessage } from "../src/security/message-mac.ts";
import { open, seal, type SealingKeys } from "../src/security/sealed-state.ts";
import { ChatLog, compareForDisplay, planRebuild, streamOf } from "./chat-model.ts";
import { ChatStorage } from "./chat-storage.ts";

export interface Caller {
	role: "visitor" | "agent";
	/** visitorId or agentId */
	id: string;
	name?: string;
	siteId: string;
	chatId: string;
}

export interface NewChat {
	siteId: string;
	chatId: string;
	visitorId: string;
	visitor: Record<string, unknown>;
	prechat?: Record<string, unknown>;
	department?: string;
	customVariables?: Record<string, string>;
	limits: ChatMeta["limits"];
}

export type RoomAnswer = ReturnResult | RoomFailure;

const MAX_WAIT_MS = 25_000;
const RATE_WINDOW_MS = 60_000;

export class ChatRoom extends DurableObject<Env> {
	private meta: ChatMeta | undefined;
	private chatState: string | undefined;
	private log = new ChatLog();
	private lastSendTime = 0;
	private readonly storage: ChatStorage | undefined;
	/** Writers run one at a time: a send awaits its MAC, and nothing may slip in between offset and append. */
	private writeTail: Promise<unknown> = Promise.resolve();
	private readonly waiters = new Set<() => void>();
	private readonly recentSends: number[] = [];

	constructor(ctx: DurableObjectState, env: Env) {
		super(ctx, env);
		if (env.CHAT_STATE === "memory") return;
		// SQLite calls are synchronous, so loading here needs no blockConcurrencyWhile.
		this.storage = new ChatStorage(ctx.storage);
		const saved = this.storage.load();
		if (saved) {
			this.meta = saved.meta;
			this.chatState = saved.chatState;
			this.log = new ChatLog(saved.messages);
			this.lastSendTime = Math.max(0, ...saved.messages.map((m) => m.sendTime));
		}
	}

	async start(chat: NewChat): Promise<{ chatState: string } | RoomFailure> {
		return this.exclusive(async () => {
			if (this.meta) return roomFailure(409, "conflict", "chat already exists");
			const meta: ChatMeta = { v: 1, ...chat, status: "waiting", agentIds: [], beginTime: Date.now() };
			await this.commit(meta, []);
			return { chatState: this.chatState! };
		});
	}

	async send(caller: Caller, offsets: Offsets, body: SendMessage): Promise<RoomAnswer> {
		return this.exclusive(async () => {
			const refused = this.compare(caller, offsets);
			if (refused) return refused;
			const meta = this.meta!;
			const existing = this.log.get(body.id);
			if (existing) return this.answer(offsets, [existing]);
			if (meta.status === "ended") return roomFailure(409, "chat_ended", "the chat has ended");
			if (body.content.length > meta.limits.maxMessageLength) {
				return roomFailure(413, "payload_too_large", `content is longer than ${meta.limits.maxMessageLength} characters`);
			}
			if (caller.role === "visitor" && this.rateLimited(meta.limits.messagesPerMinutePerVisitor)) {
				return roomFailure(429, "rate_limited", "too many messages, slow down");
			}
			const nextMeta = caller.role === "agent" && !meta.agentIds.includes(caller.id) ? this.withAgent(meta, caller) : undefined;
			const batch: ChatMessage[] = [];
			if (nextMeta) batch.push(await this.newMessage(caller, batch, 4, crypto.randomUUID(), `${caller.name ?? "An agent"} joined the chat`));
			batch.push(await this.newMessage(caller, batch, caller.role === "visitor" ? 1 : 2, body.id, body.content));
			await this.commit(nextMeta, batch);
			return this.answer(offsets);
		});
	}

	async poll(caller: Caller, offsets: Offsets, waitMs = 0): Promise<RoomAnswer> {
		const refused = this.compare(caller, offsets);
		if (refused) return refused;
		if (waitMs > 0 && this.log.above(offsets).length === 0) {
			await new Promise<void>((resolve) => {
				const done = () => {
					clearTimeout(timer);
					this.waiters.delete(done);
					resolve();
				};
				const timer = setTimeout(done, Math.min(waitMs, MAX_WAIT_MS));
				this.waiters.add(done);
			});
		}
		return this.compare(caller, offsets) ?? this.answer(offsets);
	}

	async end(caller: Caller, offsets: Offsets): Promise<RoomAnswer> {
		return this.exclusive(async () => {
			const refused = this.compare(caller, offsets);
			if (refused) return refused;
			const meta = this.meta!;
			if (meta.status === "ended") return this.answer(offsets);
			const endTime = Date.now();
			const notice = await this.newMessage(caller, [], 4, crypto.randomUUID(), "The chat has ended");
			await this.commit({ ...meta, v: meta.v + 1, status: "ended", endTime }, [notice]);
			return this.answer(offsets);
		});
	}

	async rebuild(caller: Caller, body: RebuildChat): Promise<RoomAnswer> {
		const restored = body.chatState === undefined ? undefined : await this.openState(caller, body.chatState);
		if (restored === null) return roomFailure(403, "invalid_chat_state", "chatState does not open");
		// MACs depend only on the request, so they are checked before queueing behind other writers.
		for (const m of body.messages) {
			if (!(await verifyMessage(this.env.CHAT_SIGNING_KEY, caller.siteId, caller.chatId, m))) {
				return roomFailure(403, "invalid_mac", `message ${m.id} does not carry a valid mac`);
			}
		}
		return this.exclusive(async () => {
			const meta = restored && (!this.meta || restored.v > this.meta.v) ? restored : this.meta;
			if (!meta) return roomFailure(400, "invalid_request", "chatState is required to rebuild a chat the server does not have");
			const forbidden = this.authorize(caller, meta);
			if (forbidden) return forbidden;
			const before = this.meta ? this.log.offsets : { visitorDataOffset: 0, agentDataOffset: 0 };
			const plan = planRebuild(this.log, body.messages);
			const appends: ChatMessage[] = [];
			for (const { message, resealed } of plan.appends) {
				appends.push(resealed ? { ...message, mac: await this.mac(caller, message) } : message);
			}
			for (const m of appends) this.lastSendTime = Math.max(this.lastSendTime, m.sendTime);
			const metaChanged = meta !== this.meta;
			await this.commit(metaChanged ? meta : undefined, appends, metaChanged ? body.chatState : undefined);
			const since = {
				visitorDataOffset: Math.min(body.visitorDataOffset, before.visitorDataOffset),
				agentDataOffset: Math.min(body.agentDataOffset, before.agentDataOffset),
			};
			const result = this.answer(since);
			return plan.heldBack > 0 ? { ...result, code: 1 } : result;
		});
	}

	/** Steps 1 and 2 of SPEC §3, and the caller's right to this chat. */
	private compare(caller: Caller, offsets: Offsets): RoomAnswer | undefined {
		if (!this.meta) return { code: 1, visitorDataOffset: -1, agentDataOffset: -1, messages: [] };
		const forbidden = this.authorize(caller, this.meta);
		if (forbidden) return forbidden;
		const server = this.log.offsets;
		if (offsets.visitorDataOffset > server.visitorDataOffset || offsets.agentDataOffset > server.agentDataOffset) {
			return { code: 1, ...server, messages: [] };
		}
		return undefined;
	}

	private authorize(caller: Caller, meta: ChatMeta): RoomFailure | undefined {
		if (meta.siteId !== caller.siteId || meta.chatId !== caller.chatId) return roomFailure(403, "forbidden", "not this chat");
		if (caller.role === "visitor" && meta.visitorId !== caller.id) return roomFailure(403, "forbidden", "not this chat's visitor");
		return undefined;
	}

	/** code 0 with every message above the caller's offsets (plus any it must see again), and the chat state when there is news. */
	private answer(offsets: Offsets, include: ChatMessage[] = []): ReturnResult {
		const messages = this.log.above(offsets);
		const missing = include.filter((m) => !messages.includes(m));
		if (missing.length > 0) messages.push(...missing), messages.sort(compareForDisplay);
		const result: ReturnResult = { code: 0, ...this.log.offsets, messages, status: this.meta!.status };
		// Every change of the chat's metadata comes with a system message, so the state is news exactly
		// when one is in the answer; a caller with nothing yet (an agent opening the chat) needs it too.
		const fresh = offsets.visitorDataOffset === 0 && offsets.agentDataOffset === 0;
		if (fresh || messages.some((m) => m.type === 4)) result.chatState = this.chatState;
		return result;
	}

	private withAgent(meta: ChatMeta, caller: Caller): ChatMeta {
		return { ...meta, v: meta.v + 1, status: "chatting", agentIds: [...meta.agentIds, caller.id] };
	}

	/** A message the server accepts now: next offset of its stream (after any earlier one of this batch), server time, mac. */
	private async newMessage(caller: Caller, batch: ChatMessage[], type: ChatMessage["type"], id: string, content: string): Promise<ChatMessage> {
		const stream = streamOf({ type });
		const offsets = this.log.offsets;
		const dataOffset =
			(stream === "visitor" ? offsets.visitorDataOffset : offsets.agentDataOffset) +
			batch.filter((m) => streamOf(m) === stream).length +
			1;
		// Never earlier than the previous message, so display order is acceptance order.
		this.lastSendTime = Math.max(Date.now(), this.lastSendTime);
		const message: ChatMessage = { id, type, dataOffset, content, sendTime: this.lastSendTime, mac: "" };
		if (type !== 4) {
			message.senderId = caller.id;
			if (caller.name) message.senderName = caller.name;
		}
		message.mac = await this.mac(caller, message);
		return message;
	}

	private mac(caller: Caller, m: ChatMessage): Promise<string> {
		return signMessage(this.env.CHAT_SIGNING_KEY, caller.siteId, caller.chatId, m);
	}

	private async openState(caller: Caller, sealed: string): Promise<ChatMeta | null> {
		const parsed = ChatMetaSchema.safeParse(await open(this.sealingKeys(), caller.siteId, caller.chatId, sealed));
		if (!parsed.success || parsed.data.siteId !== caller.siteId || parsed.data.chatId !== caller.chatId) return null;
		return parsed.data;
	}

	private sealingKeys(): SealingKeys {
		return { currentKid: this.env.KEY_ID, secrets: { [this.env.KEY_ID]: this.env.STATE_SEALING_KEY } };
	}

	/** Applies a change in memory and, in durable mode, in SQLite before the answer leaves. */
	private async commit(meta: ChatMeta | undefined, messages: ChatMessage[], sealedAlready?: string): Promise<void> {
		if (meta) {
			this.chatState = sealedAlready ?? (await seal(this.sealingKeys(), meta.siteId, meta.chatId, meta));
			this.meta = meta;
		}
		for (const m of messages) this.log.append(m);
		this.storage?.save({ meta, chatState: this.chatState, messages });
		if (messages.length > 0) this.wakeWaiters();
	}

	private wakeWaiters(): void {
		for (const wake of this.waiters) wake();
		this.waiters.clear();
	}

	private rateLimited(perMinute: number): boolean {
		const now = Date.now();
		while (this.recentSends.length > 0 && this.recentSends[0]! <= now - RATE_WINDOW_MS) this.recentSends.shift();
		if (this.recentSends.length >= perMinute) return true;
		this.recentSends.push(now);
		return false;
	}

	private exclusive<T>(work: () => Promise<T>): Promise<T> {
		const run = this.writeTail.then(work, work);
		this.writeTail = run.catch(() => undefined);
		return run;
	}
}
