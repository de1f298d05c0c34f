import { inForce } from "./visitor-model.ts";
import type { Ban, BanInForce } from "./visitor-model.ts";

/**
 * The site's bans as the dispatcher holds them (SPEC §7): in the object's storage in durable mode,
 * in memory otherwise, and always in D1 (written by the Worker before the dispatcher hears of a
 * ban). A dispatcher that starts without them reads the site's bans from D1 before it answers its
 * first ban question, waiting at most LOAD_WAIT_MS so that a slow D1 never holds a chat start long.
 */

const BAN = "ban:";
const LOADED = "bans:loaded";
const LOAD_WAIT_MS = 2_000;

interface BanRow {
	visitor_id: string;
	until: number | null;
	reason: string | null;
	agent_id: string;
	banned_at: number;
}

export class DispatcherBans {
	private readonly bans = new Map<string, Ban>();
	private loaded: boolean;
	private loading: Promise<void> | undefined;

	/** `storage` is undefined in memory mode. */
	constructor(
		private readonly storage: DurableObjectStorage | undefined,
		private readonly db: D1Database
	) {
		this.loaded = storage?.kv.get<boolean>(LOADED) === true;
		if (storage)
			for (const [, ban] of storage.kv.list<Ban>({ prefix: BAN }))
				this.bans.set(ban.visitorId, ban);
	}

	place(ban: Ban): void {
		const known = this.bans.get(ban.visitorId);
		if (known && known.at > ban.at) return;
		this.bans.set(ban.visitorId, ban);
		this.storage?.kv.put(BAN + ban.visitorId, ban);
	}

	/** The visitor's ban in force, or null. */
	async check(siteId: string, visitorId: string): Promise<BanInForce | null> {
		if (!this.loaded)
			await Promise.race([
				this.load(siteId),
				new Promise((resolve) => setTimeout(resolve, LOAD_WAIT_MS)),
			]);
		const ban = this.known(visitorId);
		return ban ? { until: ban.until, reason: ban.reason } : null;
	}

	/** Without asking D1: what this dispatcher holds now (an expired ban is forgotten). */
	known(visitorId: string): Ban | undefined {
		const ban = this.bans.get(visitorId);
		if (inForce(ban, Date.now())) return ban;
		if (ban) {
			this.bans.delete(visitorId);
			this.storage?.kv.delete(BAN + visitorId);
		}
		return undefined;
	}

	private load(siteId: string): Promise<void> {
		this.loading ??= this.db
			.prepare(
				`SELECT visitor_id, until, reason, agent_id, banned_at FROM bans WHERE site_id = ? AND (until IS NULL OR until > ?)`
			)
			.bind(siteId, Date.now())
			.all<BanRow>()
			.then(({ results }) => {
				for (const row of results)
					this.place({
						visitorId: row.visitor_id,
						until: row.until,
						reason: row.reason,
						agentId: row.agent_id,
						at: row.banned_at,
					});
				this.loaded = true;
				this.storage?.kv.put(LOADED, true);
			})
			.catch((error) =>
				console.error(
					"SiteDispatcher: bans not loaded from D1, asked again at the next check",
					error
				)
			)
			.finally(() => (this.loading = undefined));
		return this.loading;
	}
}
