import { streamOf } from "../src/protocol/offsets.ts";
import type { ChatMessage, ChatStatus } from "../src/protocol/chat.ts";

/** What a client keeps of one chat between page loads: enough to rebuild the server from it. */
export interface ChatSnapshot {
	siteId: string;
	chatId: string;
	token: string;
	chatState?: string;
	status?: ChatStatus;
	messages: ChatMessage[];
	outbox: OutboxItem[];
	/** Messages another copy pushed out of their place (split brain); uploaded again. */
	displaced: ChatMessage[];
}

export interface OutboxItem {
	id: string;
	content: string;
	/** The canned message's shortcut, when an agent sent one unchanged (SPEC §4: cannedMessage.useLog). */
	canned?: string;
}

export interface ChatStore {
	load(key: string): Promise<ChatSnapshot | undefined>;
	save(key: string, snapshot: ChatSnapshot): Promise<void>;
	/** A small value kept beside the chats, across them (a visitor's sealed `visitorState`); a store without these keeps none. */
	loadValue?(key: string): Promise<string | undefined>;
	saveValue?(key: string, value: string): Promise<void>;
	/** Forgets a chat (an agent's console told its claim to the chat is stale); a store without it keeps it. */
	remove?(key: string): Promise<void>;
}

/** Whether a copy holds something only it can give the server: a store never drops such a chat. */
export const hasUnsent = (
	snapshot: Pick<ChatSnapshot, "outbox" | "displaced">
): boolean => snapshot.outbox.length > 0 || snapshot.displaced.length > 0;

/** Keeps snapshots in memory (Node, tests). Messages are never mutated, so a shallow copy is a true snapshot. */
export class MemoryStore implements ChatStore {
	private readonly snapshots = new Map<string, ChatSnapshot>();
	private readonly values = new Map<string, string>();

	async load(key: string) {
		const snapshot = this.snapshots.get(key);
		return snapshot && copy(snapshot);
	}

	async save(key: string, snapshot: ChatSnapshot) {
		this.snapshots.set(key, copy(snapshot));
	}

	async loadValue(key: string) {
		return this.values.get(key);
	}

	async saveValue(key: string, value: string) {
		this.values.set(key, value);
	}

	async remove(key: string) {
		this.snapshots.delete(key);
	}
}

const copy = (s: ChatSnapshot): ChatSnapshot => ({
	...s,
	messages: [...s.messages],
	outbox: [...s.outbox],
	displaced: [...s.displaced],
});

/** The part of the Web Storage API (localStorage) the browser store uses. */
export interface KeyValueStorage {
	getItem(key: string): string | null;
	setItem(key: string, value: string): void;
	removeItem(key: string): void;
}

/** Messages per stored page: a new message rewrites its page, not the whole chat. */
const PAGE_SIZE = 100;

/** One chat as stored, without its messages: those are in pages of their own. */
interface ChatRecord extends Omit<ChatSnapshot, "messages"> {
	pages: string[];
}

/**
 * For browsers: survives reloads, so an unsent message in the outbox survives them too.
 * Under the prefix, `chats` lists the chats kept (oldest first), `chat:<key>` holds one chat's
 * record, `page:<key>:<stream><n>` a page of its messages and `value:<key>` a small value. A save
 * writes only the parts that changed. The newest `keep` chats are kept, older ones only while they
 * hold unsent messages; when the storage is full, every other chat with nothing unsent goes, and
 * the save is tried again.
 */
export class LocalStorageStore implements ChatStore {
	/** The JSON each key held when this page last read or wrote it: an unchanged part is not written again. */
	private readonly known = new Map<string, string>();

	constructor(
		private readonly storage: KeyValueStorage,
		private readonly prefix = "livechat:",
		private readonly keep = 20
	) {}

	async load(key: string): Promise<ChatSnapshot | undefined> {
		const record = this.read<ChatRecord>(`chat:${key}`);
		if (!record) return this.loadWhole(key);
		const { pages, ...rest } = record;
		return {
			...rest,
			messages: pages.flatMap(
				(page) => this.read<ChatMessage[]>(`page:${key}:${page}`) ?? []
			),
		};
	}

	async save(key: string, snapshot: ChatSnapshot): Promise<void> {
		try {
			this.write(key, snapshot);
		} catch (error) {
			if (!isQuotaExceeded(error)) throw error;
			this.prune(key, 0);
			this.write(key, snapshot);
		}
	}

	async loadValue(key: string): Promise<string | undefined> {
		return this.read<string>(`value:${key}`);
	}

	async saveValue(key: string, value: string): Promise<void> {
		this.put(`value:${key}`, value);
	}

	async remove(key: string): Promise<void> {
		this.drop([key]);
		this.removeItem(key); // as earlier versions kept it whole
	}

	private write(key: string, snapshot: ChatSnapshot): void {
		this.remember(key);
		const { messages, ...rest } = snapshot;
		const pages = new Map<string, ChatMessage[]>();
		for (const m of messages) {
			const page = `${streamOf(m) === "visitor" ? "v" : "a"}${Math.floor((m.dataOffset - 1) / PAGE_SIZE)}`;
			const list = pages.get(page);
			if (list) list.push(m);
			else pages.set(page, [m]);
		}
		for (const [page, list] of pages)
			this.put(
				`page:${key}:${page}`,
				list.sort((a, b) => a.dataOffset - b.dataOffset)
			);
		const before = this.read<ChatRecord>(`chat:${key}`);
		this.put(`chat:${key}`, {
			...rest,
			pages: [...pages.keys()].sort(),
		} satisfies ChatRecord);
		for (const page of before?.pages ?? [])
			if (!pages.has(page)) this.removeItem(`page:${key}:${page}`);
	}

	/** Lists a chat the first time it is saved, and makes room among the old ones. */
	private remember(key: string): void {
		const chats = this.read<string[]>("chats") ?? [];
		if (chats.includes(key)) return;
		// Not listed: new, or dropped by another tab. Either way nothing of it may be taken as written.
		for (const k of this.known.keys())
			if (k === `chat:${key}` || k.startsWith(`page:${key}:`))
				this.known.delete(k);
		this.put("chats", [...chats, key]);
		this.prune(key, this.keep);
	}

	/** Drops the oldest chats beyond the newest `keep`, except the one in use and any with unsent messages. */
	private prune(current: string, keep: number): void {
		const chats = this.read<string[]>("chats") ?? [];
		const dropped = chats
			.slice(0, Math.max(0, chats.length - keep))
			.filter((key) => {
				if (key === current) return false;
				const record = this.read<ChatRecord>(`chat:${key}`);
				return !record || !hasUnsent(record);
			});
		this.drop(dropped);
	}

	/** Removes these chats, their pages and their places in the list. */
	private drop(keys: string[]): void {
		for (const key of keys) {
			for (const page of this.read<ChatRecord>(`chat:${key}`)?.pages ?? [])
				this.removeItem(`page:${key}:${page}`);
			this.removeItem(`chat:${key}`);
		}
		const chats = this.read<string[]>("chats") ?? [];
		if (chats.some((key) => keys.includes(key)))
			this.put(
				"chats",
				chats.filter((key) => !keys.includes(key))
			);
	}

	/** A chat saved whole under its key, as earlier versions of this store did: stored anew, then removed. */
	private async loadWhole(key: string): Promise<ChatSnapshot | undefined> {
		const whole = this.read<ChatSnapshot>(key);
		if (!whole) return undefined;
		const snapshot = { ...whole, displaced: whole.displaced ?? [] };
		await this.save(key, snapshot);
		this.removeItem(key);
		return snapshot;
	}

	private read<T>(key: string): T | undefined {
		const raw = this.storage.getItem(this.prefix + key);
		if (raw === null) return undefined;
		try {
			const value = JSON.parse(raw) as T;
			this.known.set(key, raw);
			return value;
		} catch {
			return undefined;
		}
	}

	private put(key: string, value: unknown): void {
		const json = JSON.stringify(value);
		if (this.known.get(key) === json) return;
		this.storage.setItem(this.prefix + key, json);
		this.known.set(key, json);
	}

	private removeItem(key: string): void {
		this.storage.removeItem(this.prefix + key);
		this.known.delete(key);
	}
}

/** What browsers throw when the origin's storage is full (Firefox has a name of its own). */
const isQuotaExceeded = (error: unknown): boolean => {
	const name = (error as { name?: unknown } | null)?.name;
	return name === "QuotaExceededError" || name === "NS_ERROR_DOM_QUOTA_REACHED";
};
