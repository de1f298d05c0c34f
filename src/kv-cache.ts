/**
 * What an isolate remembers of KV values under `<prefix><id>` (site configs, token minimums): each
 * for `ttlMs`, at most `maxEntries`, the oldest going first. What the isolate writes it remembers
 * at once, so its own changes take effect here without waiting for KV.
 */
export class KvCache<V> {
	readonly #entries = new Map<string, { value: V; until: number }>();
	readonly #prefix: string;
	readonly #ttlMs: number;
	readonly #maxEntries: number;

	constructor(prefix: string, ttlMs: number, maxEntries: number) {
		this.#prefix = prefix;
		this.#ttlMs = ttlMs;
		this.#maxEntries = maxEntries;
	}

	/** The KV key of an id. */
	key(id: string): string {
		return `${this.#prefix}${id}`;
	}

	/** The value remembered, unless it was never set or is older than the TTL. */
	get(id: string): V | undefined {
		const hit = this.#entries.get(id);
		return hit && hit.until > Date.now() ? hit.value : undefined;
	}

	set(id: string, value: V): void {
		this.#entries.delete(id);
		if (this.#entries.size >= this.#maxEntries)
			this.#entries.delete(this.#entries.keys().next().value!);
		this.#entries.set(id, { value, until: Date.now() + this.#ttlMs });
	}

	/** Stores the value in KV as JSON, and remembers it. */
	async put(kv: KVNamespace, id: string, value: V): Promise<void> {
		await kv.put(this.key(id), JSON.stringify(value));
		this.set(id, value);
	}
}
