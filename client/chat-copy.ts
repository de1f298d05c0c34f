/**
 * A client's local copy of one chat: its log, outbox, displaced messages and sealed state, how an
 * answer is merged into it (SPEC §3, by the protocol module's `absorb`), what the app is told, and
 * how the copy is saved.
 */
import { ChatLog } from "../durable-objects/chat-model.ts";
import { absorb, messageTypeOf } from "../src/protocol/offsets.ts";
import type {
	ChatMessage,
	ChatStatus,
	Offsets,
	ReturnResult,
} from "../src/protocol/chat.ts";
import type { Position } from "../src/protocol/offsets.ts";
import type { ServerFrame } from "../src/protocol/wire.ts";
import type { ChatSnapshot, ChatStore, OutboxItem } from "./store.ts";

export type ChatEvent =
	| { type: "messages"; messages: ChatMessage[] }
	/** The chat's status or its place in the queue (while it waits, 1 = next) changed. */
	| { type: "status"; status: ChatStatus; queuePosition?: number }
	/** A visitor's refreshed sealed state (its last agent, for sticky routing): kept in the store for its next chat. */
	| { type: "visitorState"; visitorState: string }
	| Extract<ServerFrame, { type: "typing" | "read" | "ended" }>
	/** The room no longer lets this client in (an agent transferred away, a banned visitor): its link stopped. */
	| { type: "refused"; error: { type: string; message: string } }
	/** The store failed to save the copy (`saved: false`, kept in memory and tried again on the next change), or saved it again. */
	| { type: "storage"; saved: boolean; error?: unknown };

/** What an answer or a frame brings to the copy. */
export type Update = Pick<
	ReturnResult,
	"messages" | "chatState" | "status" | "queuePosition" | "visitorState"
>;

/** Who this client is in the chat, from its token. */
export interface Me {
	role: "visitor" | "agent";
	id: string;
	name?: string;
}

export const storeKey = (siteId: string, chatId: string) =>
	`${siteId}/${chatId}`;
export const visitorStateKey = (siteId: string) => `visitorState:${siteId}`;

export class ChatCopy {
	log = new ChatLog();
	outbox: OutboxItem[] = [];
	displaced: ChatMessage[] = [];
	chatState: string | undefined;
	status: ChatStatus | undefined;
	/** While the chat waits: its place in the site's queue, 1 = next. */
	queuePosition: number | undefined;
	/** The visitor's sealed state as last handed out. */
	visitorState: string | undefined;
	/** One save at a time, the newest copy last; a change made during a save is saved right after it. */
	private saving: Promise<void> | undefined;
	private unsaved = false;
	private saveFailed = false;

	constructor(
		readonly chat: { siteId: string; chatId: string; token: string },
		readonly me: Me,
		private readonly store: ChatStore,
		private readonly onEvent: (event: ChatEvent) => void
	) {}

	/** Whether the store holds the copy as of the last save. */
	get saved(): boolean {
		return !this.saveFailed;
	}

	/** What the store kept (after a page reload). */
	restore(snapshot: ChatSnapshot): void {
		this.log = new ChatLog(snapshot.messages);
		this.outbox = snapshot.outbox;
		this.displaced = snapshot.displaced;
		this.status = snapshot.status;
	}

	/**
	 * This copy's offsets and its chains at them, taken together: a message that moves while a chain
	 * is computed (a socket push) makes it start again.
	 */
	async position(): Promise<Position> {
		for (;;) {
			const offsets = this.log.offsets;
			const chains = await this.log
				.chainsAtOffsets()
				.catch((error: unknown) => {
					if (sameOffsets(offsets, this.log.offsets)) throw error;
					return undefined;
				});
			if (chains && sameOffsets(offsets, this.log.offsets))
				return { ...offsets, ...chains };
		}
	}

	/**
	 * Merges the server's messages into the copy (the server's placement wins), tells onEvent of the
	 * ones that are new here and returns them. Saving is the caller's.
	 */
	absorb(update: Update): ChatMessage[] {
		const merged = absorb(this.log, update.messages, this);
		this.displaced = merged.displaced;
		this.outbox = merged.outbox;
		if (update.chatState) this.chatState = update.chatState;
		this.noteStatus(update.status, update.queuePosition);
		this.keepVisitorState(update.visitorState);
		if (merged.fresh.length > 0)
			this.tell({ type: "messages", messages: merged.fresh });
		return merged.fresh;
	}

	/** For frames that arrive unasked: nobody else saves the copy after them. */
	absorbAndSave(update: Update): void {
		this.absorb(update);
		if (update.messages.length > 0 || update.chatState || update.status)
			void this.persist();
	}

	/** Our message as the room accepted it: the ack says where and when, we know the rest. */
	ownMessage(ack: Extract<ServerFrame, { type: "ack" }>): ChatMessage[] {
		const item = this.outbox.find((m) => m.id === ack.id);
		if (!item) return [];
		const message: ChatMessage = {
			id: ack.id,
			type: messageTypeOf(this.me.role),
			dataOffset: ack.dataOffset,
			content: item.content,
			sendTime: ack.sendTime,
			senderId: this.me.id,
			mac: ack.mac,
		};
		if (this.me.name) message.senderName = this.me.name;
		return [message];
	}

	leaveOutbox(id: string): void {
		this.outbox = this.outbox.filter((m) => m.id !== id);
	}

	/** A new status, or a new place in the queue while waiting, is told to the app; a waiting answer without a place keeps the last one. */
	noteStatus(status: ChatStatus | undefined, queuePosition?: number): void {
		if (!status) return;
		const position =
			status === "waiting" ? (queuePosition ?? this.queuePosition) : undefined;
		if (status === this.status && position === this.queuePosition) return;
		this.status = status;
		this.queuePosition = position;
		this.tell(
			position === undefined
				? { type: "status", status }
				: { type: "status", status, queuePosition: position }
		);
	}

	/** Only a visitor keeps it: its next chat starts with it. A store that cannot save it only loses the stickiness. */
	keepVisitorState(visitorState: string | undefined): void {
		if (
			!visitorState ||
			this.me.role !== "visitor" ||
			visitorState === this.visitorState
		)
			return;
		this.visitorState = visitorState;
		void Promise.resolve()
			.then(() =>
				this.store.saveValue?.(visitorStateKey(this.chat.siteId), visitorState)
			)
			.catch(() => undefined);
		this.tell({ type: "visitorState", visitorState });
	}

	/**
	 * Saves the copy; never rejects. A failed save is told once (a `storage` event, `saved` false) and
	 * tried again with the next change; the copy stays whole in memory meanwhile.
	 */
	persist(): Promise<void> {
		this.unsaved = true;
		this.saving ??= this.saveChanges();
		return this.saving;
	}

	private async saveChanges(): Promise<void> {
		const key = storeKey(this.chat.siteId, this.chat.chatId);
		try {
			while (this.unsaved) {
				this.unsaved = false;
				try {
					// Through a promise, so that a store that throws at once still leaves this loop asynchronously.
					await Promise.resolve().then(() =>
						this.store.save(key, this.snapshot())
					);
				} catch (error) {
					this.unsaved = true;
					if (!this.saveFailed)
						this.tell({ type: "storage", saved: false, error });
					this.saveFailed = true;
					return;
				}
				if (this.saveFailed) this.tell({ type: "storage", saved: true });
				this.saveFailed = false;
			}
		} finally {
			this.saving = undefined;
		}
	}

	private snapshot(): ChatSnapshot {
		return {
			...this.chat,
			chatState: this.chatState,
			status: this.status,
			messages: this.log.values(),
			outbox: [...this.outbox],
			displaced: [...this.displaced],
		};
	}

	/** A listener that throws must not fail the call that noticed the event (a send the server took, a save). */
	tell(event: ChatEvent): void {
		try {
			this.onEvent(event);
		} catch (error) {
			console.error("LiveChatClient: onEvent threw", error);
		}
	}
}

const sameOffsets = (a: Offsets, b: Offsets) =>
	a.visitorDataOffset === b.visitorDataOffset &&
	a.agentDataOffset === b.agentDataOffset;
