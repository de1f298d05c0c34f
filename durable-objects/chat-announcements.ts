/**
 * What a room tells the queues about its chat (SPEC §3, §8): chat.end once, and chat.transcript for
 * what the chat gains after that; when each may go out, and what is still owed. The room calls
 * these outside its write queue, so no send waits for a queue's answer.
 */
import { chatEndId, chatTranscriptId } from "../queues/publisher.ts";
import { chatEndPayload, chatTranscriptPayload } from "./chat-end.ts";
import type { Publisher } from "../queues/publisher.ts";
import type { ChatMeta } from "../src/protocol/chat-state.ts";
import type { ChatLog } from "./chat-model.ts";
import type { ChatStorage } from "./chat-storage.ts";

/** How soon an announcement the queue refused is tried again (from the room's alarm). */
export const ANNOUNCE_RETRY_MS = 30_000;
/**
 * A room whose chat came back by rebuild may hold one side's copy only: it waits this long, or until
 * an agent of the chat has caught up with it, before chat.end takes the copy outside the service.
 */
export const END_GRACE_MS = 60_000;

export class ChatAnnouncements {
	/** Memory mode's record that chat.end reached its queue; durable mode keeps it in storage. */
	private endOut = false;
	/** When the chat came back by a rebuild (failover, eviction, lost storage). */
	private restoredAt: number | undefined;
	/** An agent of the chat has rebuilt it, or found it not behind its own copy, since then. */
	private agentCaughtUp = false;
	/** The chat gained messages after chat.end went out, and chat.transcript has not reached its queue yet. */
	private transcriptOwed: boolean;

	constructor(
		/** The room's publisher for the chat's site. */
		private readonly publisher: (siteId: string) => Publisher,
		private readonly storage: ChatStorage | undefined,
		/** Asks the room's alarm to come back at this time (the room keeps the earliest of its deadlines). */
		private readonly retryAt: (at: number) => Promise<void>
	) {
		this.restoredAt = storage?.restoredAt;
		this.transcriptOwed = storage?.transcriptOwed ?? false;
	}

	get endPublished(): boolean {
		return this.endOut || !!this.storage?.endAnnounced;
	}

	/** A room that came back by rebuild may lack its agents in the list: they are asked to rebuild, not refused. */
	get restored(): boolean {
		return this.restoredAt !== undefined;
	}

	markRestored(): void {
		this.restoredAt = Date.now();
		this.storage?.setRestoredAt(this.restoredAt);
	}

	/** True when this makes a restored chat's copy whole, so an end waiting for it may go out now. */
	agentCaughtUpNow(): boolean {
		if (this.agentCaughtUp || this.restoredAt === undefined) return false;
		this.agentCaughtUp = true;
		return true;
	}

	/** Messages appended to an ended chat: once chat.end is out, persistence gets them as chat.transcript. */
	grewAfterEnd(): void {
		if (!this.endPublished) return;
		this.transcriptOwed = true;
		this.storage?.setTranscriptOwed(true);
	}

	/** When an ended chat's end may be published: at once, unless it is a restored copy still waiting for an agent. */
	endMayGoAt(): number {
		return this.restoredAt === undefined || this.agentCaughtUp
			? 0
			: this.restoredAt + END_GRACE_MS;
	}

	/**
	 * Publishes chat.end once per room. Its uniqueId comes from the chat id, so a second deployment
	 * ending the same chat, or a room that forgot it announced, publishes a repeat every consumer
	 * skips. False when the queue refused it (the alarm tries again); true when it is out or waits
	 * for its time (the alarm is set for then).
	 */
	async end(meta: ChatMeta, log: ChatLog): Promise<boolean> {
		if (this.endPublished) return true;
		const mayGoAt = this.endMayGoAt();
		if (mayGoAt > Date.now()) {
			await this.retryAt(mayGoAt);
			return true;
		}
		try {
			await this.publisher(meta.siteId).publish(
				"chat.end",
				chatEndId(meta.chatId),
				chatEndPayload(meta, log.all())
			);
		} catch (error) {
			console.error("ChatRoom: chat.end not queued yet", error);
			await this.retryAt(Date.now() + ANNOUNCE_RETRY_MS);
			return false;
		}
		this.endOut = true;
		this.storage?.markEndAnnounced();
		return true;
	}

	/**
	 * Publishes what the chat holds now, if it grew after its end. Its id names the offsets, so each new
	 * state is one event and a retry of the same state a repeat; persistence merges by message id.
	 */
	async transcript(meta: ChatMeta, log: ChatLog): Promise<boolean> {
		if (!this.transcriptOwed) return true;
		const { visitorDataOffset, agentDataOffset } = log.offsets;
		try {
			await this.publisher(meta.siteId).publish(
				"chat.transcript",
				chatTranscriptId(meta.chatId, visitorDataOffset, agentDataOffset),
				chatTranscriptPayload(meta, log.all())
			);
		} catch (error) {
			console.error("ChatRoom: chat.transcript not queued yet", error);
			await this.retryAt(Date.now() + ANNOUNCE_RETRY_MS);
			return false;
		}
		const now = log.offsets;
		if (
			now.visitorDataOffset === visitorDataOffset &&
			now.agentDataOffset === agentDataOffset
		) {
			this.transcriptOwed = false;
			this.storage?.setTranscriptOwed(false);
		}
		return true;
	}
}
