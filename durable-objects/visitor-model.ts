/**
 * The dispatcher's visitor rules (SPEC §7), pure so they are tested in milliseconds: the bounded
 * tracked list (oldest out first), who counts as gone, and whether a ban is in force.
 */
import type { VisitorSummary } from "../src/protocol/visitors.ts";

/** A visitor with no page socket open and no page view for this long has left the site. */
export const VISITOR_GONE_MS = 5 * 60_000;

export interface Visit {
	visitorId: string;
	page?: string;
	title?: string;
	referrer?: string;
}

export interface TrackedVisitor extends Visit {
	/** Its first page view while tracked: time on site counts from here. */
	firstSeen: number;
	/** Its last page view, page socket hello or page socket close. */
	lastSeen: number;
}

export interface Ban {
	visitorId: string;
	/** Epoch ms; null = until lifted. */
	until: number | null;
	reason: string | null;
	agentId: string;
	at: number;
}

/** What a room or the Worker is told: the ban in force, or null. */
export type BanInForce = Pick<Ban, "until" | "reason">;

export const inForce = (ban: Ban | undefined, now: number): ban is Ban =>
	ban !== undefined && (ban.until === null || ban.until > now);

export const hasLeft = (
	visitor: TrackedVisitor,
	connected: boolean,
	now: number
) => !connected && now - visitor.lastSeen >= VISITOR_GONE_MS;

/**
 * Adds the visit to the list, or refreshes its visitor, which keeps its first-seen time and moves to
 * the newest end. The list (a Map keeps insertion order: least recently seen first) holds at most
 * `max`: visitors who left go first, then the oldest. Returns whether the visitor is tracked and who
 * was dropped. Visitors off the list keep every chat function; only their live tracking is off.
 */
export function track(
	list: Map<string, TrackedVisitor>,
	visit: Visit,
	max: number,
	now: number,
	connected: (visitorId: string) => boolean
): { tracked: boolean; dropped: string[] } {
	const dropped: string[] = [];
	const known = list.get(visit.visitorId);
	list.delete(visit.visitorId);
	if (max <= 0) {
		if (known) dropped.push(visit.visitorId);
		return {
			tracked: false,
			dropped: [...dropped, ...trim(list, 0, now, connected)],
		};
	}
	list.set(visit.visitorId, {
		...withoutEmpty(visit),
		firstSeen: known?.firstSeen ?? now,
		lastSeen: now,
	});
	return { tracked: true, dropped: trim(list, max, now, connected) };
}

/** Drops visitors until the list holds `max`: the ones who left, oldest first, then the oldest of the rest. */
export function trim(
	list: Map<string, TrackedVisitor>,
	max: number,
	now: number,
	connected: (visitorId: string) => boolean
): string[] {
	const dropped: string[] = [];
	for (const pass of ["left", "any"] as const) {
		for (const [id, visitor] of list) {
			if (list.size <= max) return dropped;
			if (pass === "any" || hasLeft(visitor, connected(id), now)) {
				list.delete(id);
				dropped.push(id);
			}
		}
	}
	return dropped;
}

/** The tracked list (least recently seen first) as agents see it: most recently seen first, without the visitors who left. */
export function summaries(
	list: Iterable<TrackedVisitor>,
	now: number,
	facts: {
		connected: (visitorId: string) => boolean;
		chatting: ReadonlySet<string>;
		banned: (visitorId: string) => boolean;
	}
): VisitorSummary[] {
	return [...list]
		.reverse()
		.filter((v) => !hasLeft(v, facts.connected(v.visitorId), now))
		.map((v) => {
			const connected = facts.connected(v.visitorId);
			// A page still open counts until now; otherwise the visit ended when the visitor was last seen.
			const timeOnSite = Math.max(
				0,
				(connected ? now : v.lastSeen) - v.firstSeen
			);
			return {
				...v,
				timeOnSite,
				chatting: facts.chatting.has(v.visitorId),
				connected,
				banned: facts.banned(v.visitorId),
			};
		});
}

/** Optional fields stay absent rather than empty. */
function withoutEmpty(visit: Visit): Visit {
	const kept: Visit = { visitorId: visit.visitorId };
	if (visit.page) kept.page = visit.page;
	if (visit.title) kept.title = visit.title;
	if (visit.referrer) kept.referrer = visit.referrer;
	return kept;
}
