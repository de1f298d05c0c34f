/**
 * The chat as its room holds it (meta, sealed state, the two streams), and what every chat operation
 * is built from: the offset check of SPEC §3, the caller's right to the chat, a new message, the
 * answer, and the commit that stores a change and tells everyone listening.
 */
import { roomFailure } from "../src/errors.ts";
import { ChatMetaSchema } from "../src/protocol/chat-state.ts";
import { checkCall, isAhead, MessageType } from "../src/protocol/offsets.ts";
import { keyRing } from "../src/security/keys.ts";
import { signMessage } from "../src/security/message-mac.ts";
import { open, seal } from "../src/security/sealed-state.ts";
import { sealVisitorState } from "../src/security/visitor-state.ts";
import { ANNOUNCE_RETRY_MS } from "./chat-announcements.ts";
import { ChatLog, inDisplayOrder, streamOf } from "./chat-model.ts";
import { lostChat } from "./room-contract.ts";
import { tell } from "./room-sockets.ts";
import { SerialQueue } from "./serial-queue.ts";
import type { RoomFailure } from "../src/errors.ts";
import type { ChatMeta } from "../src/protocol/chat-state.ts";
import type {
	ChatMessage,
	Offsets,
	ReturnResult,
} from "../src/protocol/chat.ts";
import type { ChatAnnouncements } from "./chat-announcements.ts";
import type { Chains } from "./chat-chain.ts";
import type { ChatStorage } from "./chat-storage.ts";
import type { RoomBans } from "./room-bans.ts";
import type { Caller, RoomAnswer } from "./room-contract.ts";
import type { RoomDispatch } from "./room-dispatch.ts";
import type { Change, RoomSockets } from "./room-sockets.ts";

/** A change that came in on a socket: that socket already holds these messages, everyone else is told. */
export interface Origin {
	ws: WebSocket;
	has: ReadonlySet<string>;
}

/** What the chat's operations reach through the core: the room's parts, and its env read at each use. */
export interface RoomParts {
	env(): Env;
	storage: ChatStorage | undefined;
	sockets: RoomSockets;
	announcements: ChatAnnouncements;
	dispatch: RoomDispatch;
	bans: RoomBans;
	/** Long-polls waiting for news. */
	waiters: Set<() => void>;
	scheduleAlarm(at: number): Promise<void>;
	waitUntil(promise: Promise<unknown>): void;
	/** An agent found the room not behind it (see RoomEnd.noteCaughtUp). */
	caughtUp(caller: Caller): void;
}

export const notInChat = () =>
	roomFailure(403, "not_in_chat", "you are not one of this chat's agents");

export class RoomCore {
	meta: ChatMeta | undefined;
	chatState: string | undefined;
	log = new ChatLog();
	lastSendTime = 0;
	/** The visitor's refreshed sealed state (its last agent) since the chat's agents last changed (SPEC §4). */
	visitorState: string | undefined;
	/** Writers run one at a time: a send awaits its MAC, and nothing may slip in between offset and append. */
	readonly writes = new SerialQueue();

	constructor(readonly parts: RoomParts) {
		const saved = parts.storage?.load();
		if (saved) {
			this.meta = saved.meta;
			this.chatState = saved.chatState;
			this.log = new ChatLog(saved.messages);
			for (const m of saved.messages) this.noteSendTime(m);
		}
	}

	get env(): Env {
		return this.parts.env();
	}

	noteSendTime(m: ChatMessage): void {
		this.lastSendTime = Math.max(this.lastSendTime, m.sendTime);
	}

	/** Steps 1 and 2 of SPEC §3 with the chain check, and the caller's right to this chat. */
	async compare(
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
		const rebuild = await checkCall(this.log, { ...offsets, ...chains });
		if (!rebuild) this.parts.caughtUp(caller);
		return rebuild;
	}

	authorize(caller: Caller, meta: ChatMeta): RoomFailure | undefined {
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
	membership(
		caller: Caller,
		meta: ChatMeta,
		access: "read" | "write" = "write"
	): RoomAnswer | undefined {
		if (caller.role !== "agent" || meta.agentIds.includes(caller.id))
			return undefined;
		if (access === "read" && caller.agentRole === "supervisor")
			return undefined;
		// An agent the chat shows transferred away is out for good: no rebuild of an older copy brings it back.
		const removed = meta.pastAgentIds?.includes(caller.id) ?? false;
		return this.parts.announcements.restored && !removed
			? { code: 1, ...this.log.offsets, messages: [] }
			: notInChat();
	}

	hasNews(offsets: Offsets): boolean {
		return isAhead(this.log.offsets, offsets);
	}

	/** code 0 with every message above the caller's offsets (plus any it must see again), and the chat state when there is news. */
	answer(
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
		const { queuePosition } = this.parts.dispatch;
		if (this.meta!.status === "waiting" && queuePosition !== undefined)
			result.queuePosition = queuePosition;
		// Every change of the chat's metadata comes with a system message, so the state is news exactly
		// when one is in the answer; a caller with nothing yet (an agent opening the chat) needs it too.
		const fresh =
			offsets.visitorDataOffset === 0 && offsets.agentDataOffset === 0;
		if (fresh || messages.some((m) => m.type === MessageType.System)) {
			result.chatState = this.chatState;
			// The visitor's own credential for its next chat: never handed to agents.
			if (this.visitorState && caller.role === "visitor")
				result.visitorState = this.visitorState;
		}
		return result;
	}

	/** A message the server accepts now: next offset of its stream (after any earlier one of this batch), server time, mac. */
	async newMessage(
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
		if (type !== MessageType.System) {
			message.senderId = caller.id;
			if (caller.name) message.senderName = caller.name;
		}
		message.mac = await this.mac(caller, message);
		return message;
	}

	/** A system message with the given text. */
	notice(caller: Caller, content: string): Promise<ChatMessage> {
		return this.newMessage(
			caller,
			[],
			MessageType.System,
			crypto.randomUUID(),
			content
		);
	}

	mac(caller: Caller, m: ChatMessage): Promise<string> {
		return signMessage(keyRing(this.env), caller.siteId, caller.chatId, m);
	}

	async openState(caller: Caller, sealed: string): Promise<ChatMeta | null> {
		const parsed = ChatMetaSchema.safeParse(
			await open(keyRing(this.env), caller.siteId, caller.chatId, sealed)
		);
		if (
			!parsed.success ||
			parsed.data.siteId !== caller.siteId ||
			parsed.data.chatId !== caller.chatId
		)
			return null;
		return parsed.data;
	}

	/**
	 * Stores a change and tells everyone listening (SPEC §3, storage modes). The chat's other sockets hear
	 * it first, before the write is issued: whatever leaves after a write waits for it to be durable (the
	 * output gate), and their push need not. A write lost after that push leaves the room behind clients
	 * that hold the change; their next call gets code 1 and their rebuild gives it back. What the caller is
	 * told (its answer, its socket's ack and frames) leaves after the write, and a failed write leaves the
	 * room's memory as it was, so the caller is never told of a change the room does not keep.
	 */
	async commit(
		meta: ChatMeta | undefined,
		messages: ChatMessage[],
		sealedAlready?: string,
		origin?: Origin
	): Promise<void> {
		const { announcements, sockets } = this.parts;
		const chatState = meta
			? (sealedAlready ??
				(await seal(keyRing(this.env), meta.siteId, meta.chatId, meta)))
			: this.chatState;
		// The chat's agents changed: the visitor's next chat can go to the same agent (sticky routing, SPEC §7).
		const lastAgentId = meta?.agentIds.at(-1);
		const visitorState =
			meta && lastAgentId && lastAgentId !== this.meta?.agentIds.at(-1)
				? await sealVisitorState(this.env, meta.siteId, {
						visitorId: meta.visitorId,
						lastAgentId,
					})
				: this.visitorState;
		const change: Change = {
			messages,
			state: meta && chatState ? { chatState, status: meta.status } : undefined,
			visitorState,
			endedNow: meta?.status === "ended" && this.meta?.status !== "ended",
		};
		// An agent this change takes out of the chat hears nothing more of it (SPEC §6: closed with 4403).
		if (meta) sockets.closeRemoved(removedAgents(this.meta, meta));
		const told = new Set<WebSocket>();
		for (const [ws, caller] of sockets.authenticated()) {
			if (ws === origin?.ws) continue;
			tell(ws, caller, change);
			told.add(ws);
		}
		// However the chat became ended here (an end call, or a rebuild on a failover deployment that never
		// saw the end), chat.end must go out: the alarm is set with the end, so a crash before publishing loses nothing.
		if (change.endedNow && !announcements.endPublished)
			await this.parts.scheduleAlarm(Date.now() + ANNOUNCE_RETRY_MS);
		// A send only queues its frame; the write blocks the thread until SQLite's commit is on disk (locally an
		// fsync inside exec). One turn of the event loop first lets the pushed frames leave before it.
		if (told.size > 0 && this.parts.storage)
			await new Promise((r) => setTimeout(r, 0));
		this.parts.storage?.save({ meta, chatState, messages });
		// chat.end already took the record out: what comes after reaches persistence as chat.transcript.
		if (messages.length > 0 && this.meta?.status === "ended")
			announcements.grewAfterEnd();
		if (meta) {
			this.meta = meta;
			this.chatState = chatState;
		}
		this.visitorState = visitorState;
		for (const m of messages) this.log.append(m);
		// Long-polls answer from memory, and their answers wait for the write anyway.
		if (messages.length > 0) for (const wake of this.parts.waiters) wake();
		// The caller's socket, after the write; and a socket that said hello while the alarm was set.
		for (const [ws, caller] of sockets.authenticated())
			if (!told.has(ws))
				tell(ws, caller, change, ws === origin?.ws ? origin.has : undefined);
	}
}

/**
 * Agents a new state takes out of the chat: those the room had in it, and, when the room had no chat,
 * those the state shows transferred away (their sockets said hello before the room knew).
 */
function removedAgents(
	before: ChatMeta | undefined,
	after: ChatMeta
): string[] {
	const out = before ? before.agentIds : (after.pastAgentIds ?? []);
	return out.filter((id) => !after.agentIds.includes(id));
}
