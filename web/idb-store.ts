import { hasUnsent } from "../client/store.ts";
import type { ChatSnapshot, ChatStore } from "../client/store.ts";

/**
 * A ChatStore on IndexedDB, for the widget (SPEC §9; in web/ because the Workers typecheck has no DOM): survives reloads, so the outbox does too. It is
 * bounded: beyond `maxChats` chats or `maxBytes` of JSON, the oldest chats go, ended ones first;
 * the chat being saved and any chat holding unsent messages never go. When the browser says the
 * storage is full, every other chat that can go goes and the save is tried once more; if even that
 * fails the save rejects, and LiveChatClient keeps the copy (its outbox included) in memory and
 * tells the app (a `storage` event).
 */

export const DB_NAME = "livechat";
const CHATS = "chats";
const VALUES = "values";

/** One stored chat: the snapshot and what pruning needs without parsing it. */
export interface ChatRecord {
	snapshot: ChatSnapshot;
	savedAt: number;
	bytes: number;
}

export function openChatDb(name = DB_NAME): Promise<IDBDatabase> {
	return new Promise((resolve, reject) => {
		const open = indexedDB.open(name, 1);
		open.onupgradeneeded = () => {
			open.result.createObjectStore(CHATS);
			open.result.createObjectStore(VALUES);
		};
		open.onsuccess = () => resolve(open.result);
		open.onerror = () => reject(open.error);
		open.onblocked = () =>
			reject(new Error("the chat storage is blocked by another tab"));
	});
}

/** One request in its own transaction; resolves when the transaction has committed. */
export function idb<T>(
	db: IDBDatabase,
	store: string,
	mode: IDBTransactionMode,
	run: (s: IDBObjectStore) => IDBRequest<T>
): Promise<T> {
	return new Promise((resolve, reject) => {
		const tx = db.transaction(store, mode);
		const request = run(tx.objectStore(store));
		tx.oncomplete = () => resolve(request.result);
		tx.onerror = tx.onabort = () => reject(tx.error ?? request.error);
	});
}

export const readValue = (db: IDBDatabase, key: string) =>
	idb<string | undefined>(db, VALUES, "readonly", (s) => s.get(key));
export const readChat = (db: IDBDatabase, key: string) =>
	idb<ChatRecord | undefined>(db, CHATS, "readonly", (s) => s.get(key));

export class IndexedDbStore implements ChatStore {
	/** Keys saved by this page: pruning runs when a chat is first saved, not on every message. */
	private readonly seen = new Set<string>();

	constructor(
		private readonly db: IDBDatabase,
		private readonly limits = { maxChats: 20, maxBytes: 2_000_000 }
	) {}

	async load(key: string): Promise<ChatSnapshot | undefined> {
		return (await readChat(this.db, key))?.snapshot;
	}

	async save(key: string, snapshot: ChatSnapshot): Promise<void> {
		const record: ChatRecord = {
			snapshot,
			savedAt: Date.now(),
			bytes: JSON.stringify(snapshot).length,
		};
		const put = () =>
			idb(this.db, CHATS, "readwrite", (s) => s.put(record, key));
		try {
			await put();
		} catch (error) {
			if ((error as { name?: string } | null)?.name !== "QuotaExceededError")
				throw error;
			await this.prune(key, { maxChats: 1, maxBytes: 0 });
			await put();
		}
		if (!this.seen.has(key) || record.bytes > this.limits.maxBytes / 4) {
			this.seen.add(key);
			await this.prune(key, this.limits);
		}
	}

	loadValue(key: string): Promise<string | undefined> {
		return readValue(this.db, key);
	}

	async saveValue(key: string, value: string): Promise<void> {
		await idb(this.db, VALUES, "readwrite", (s) => s.put(value, key));
	}

	/** Drops chats, ended and oldest first, until within the limits; never `current`, never one with unsent messages. */
	async prune(
		current: string,
		limits: { maxChats: number; maxBytes: number }
	): Promise<string[]> {
		const [keys, records] = await Promise.all([
			idb(this.db, CHATS, "readonly", (s) => s.getAllKeys()),
			idb<ChatRecord[]>(this.db, CHATS, "readonly", (s) => s.getAll()),
		]);
		const chats = keys.map((key, i) => ({ key: String(key), ...records[i]! }));
		let count = chats.length;
		let bytes = chats.reduce((sum, c) => sum + c.bytes, 0);
		const candidates = chats
			.filter((c) => c.key !== current && !hasUnsent(c.snapshot))
			.sort(
				(a, b) =>
					Number(b.snapshot.status === "ended") -
						Number(a.snapshot.status === "ended") || a.savedAt - b.savedAt
			);
		const dropped: string[] = [];
		for (const c of candidates) {
			if (count <= limits.maxChats && bytes <= limits.maxBytes) break;
			dropped.push(c.key);
			count--;
			bytes -= c.bytes;
		}
		if (dropped.length > 0) {
			await new Promise<void>((resolve, reject) => {
				// The chat's read positions (widget-shared.ts: readKey, agentReadKey) go with it.
				const tx = this.db.transaction([CHATS, VALUES], "readwrite");
				for (const key of dropped) {
					tx.objectStore(CHATS).delete(key);
					for (const prefix of ["read:", "agentRead:"])
						tx.objectStore(VALUES).delete(prefix + key);
				}
				tx.oncomplete = () => resolve();
				tx.onerror = tx.onabort = () => reject(tx.error);
			});
		}
		return dropped;
	}
}
