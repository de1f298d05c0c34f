import type { ChatMessage } from "../src/protocol/chat.ts";

/** What a client keeps of one chat between page loads: enough to rebuild the server from it. */
export interface ChatSnapshot {
	siteId: string;
	chatId: string;
	token: string;
	chatState?: string;
	messages: ChatMessage[];
	outbox: OutboxItem[];
	/** Messages another copy pushed out of their place (split brain); uploaded again. */
	displaced: ChatMessage[];
}

export interface OutboxItem {
	id: string;
	content: string;
}

export interface ChatStore {
	load(key: string): Promise<ChatSnapshot | undefined>;
	save(key: string, snapshot: ChatSnapshot): Promise<void>;
}

/** Keeps snapshots in memory (Node, tests). Messages are never mutated, so a shallow copy is a true snapshot. */
export class MemoryStore implements ChatStore {
	private readonly snapshots = new Map<string, ChatSnapshot>();

	async load(key: string) {
		const snapshot = this.snapshots.get(key);
		return snapshot && copy(snapshot);
	}

	async save(key: string, snapshot: ChatSnapshot) {
		this.snapshots.set(key, copy(snapshot));
	}
}

const copy = (s: ChatSnapshot): ChatSnapshot => ({ ...s, messages: [...s.messages], outbox: [...s.outbox], displaced: [...s.displaced] });

/** For browsers: survives reloads, so an unsent message in the outbox survives them too. */
export class LocalStorageStore implements ChatStore {
	constructor(
		private readonly storage: { getItem(key: string): string | null; setItem(key: string, value: string): void },
		private readonly prefix = "livechat:",
	) {}

	async load(key: string) {
		const raw = this.storage.getItem(this.prefix + key);
		return raw === null ? undefined : (JSON.parse(raw) as ChatSnapshot);
	}

	async save(key: string, snapshot: ChatSnapshot) {
		this.storage.setItem(this.prefix + key, JSON.stringify(snapshot));
	}
}
