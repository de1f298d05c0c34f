/**
 * Merging two copies of a chat's metadata (pure). Two deployments can both change a chat during a
 * split brain, each raising `v` on its own, so the higher `v` alone cannot win: an ended chat stays
 * ended, agents who joined on either side stay in it. But membership only ever shrinks by a room's own
 * decision (SPEC §6): an agent one copy shows transferred away is in the merge only if a newer copy
 * shows it back in, so replaying an older chatState never re-admits a removed agent.
 *
 * Two copies whose first agents differ were routed apart: each deployment's dispatcher gave the waiting
 * chat to someone (a split brain). The chat keeps one owner, the first assigned (then the lower id),
 * whatever the versions say, and the other line's agents leave as if transferred away.
 */
import type { ChatMeta } from "../src/protocol/chat-state.ts";

const statusRank = { waiting: 0, chatting: 1, ended: 2 } as const;

/** The room's metadata after a client brings `offered`; `current` itself when nothing changes. */
export function mergeChatMeta(
	current: ChatMeta | undefined,
	offered: ChatMeta
): ChatMeta {
	if (!current) return offered;
	const [older, newer] =
		offered.v > current.v ? [current, offered] : [offered, current];
	const endTimes = [current.endTime, offered.endTime].filter(
		(t): t is number => t !== undefined
	);
	const apart = routedApart(current, offered);
	const agentIds = apart ? apart.kept.agentIds : mergedAgents(older, newer);
	const pastAgentIds = [
		...new Set([
			...(newer.pastAgentIds ?? []),
			...(older.pastAgentIds ?? []),
			...(apart?.left.agentIds ?? []),
		]),
	].filter((id) => !agentIds.includes(id));
	const merged: ChatMeta = {
		...newer,
		status:
			statusRank[offered.status] > statusRank[current.status]
				? offered.status
				: current.status,
		agentIds,
		agentNames: { ...older.agentNames, ...newer.agentNames },
		beginTime: Math.min(current.beginTime, offered.beginTime),
	};
	if (pastAgentIds.length > 0) merged.pastAgentIds = pastAgentIds;
	else delete merged.pastAgentIds;
	if (endTimes.length > 0) merged.endTime = Math.max(...endTimes);
	const first = apart?.kept ?? firstAssigned(current, offered);
	if (first?.startTime !== undefined) merged.startTime = first.startTime;
	if (first?.firstAgentId !== undefined)
		merged.firstAgentId = first.firstAgentId;
	if (sameState(merged, current)) return current;
	if (sameState(merged, offered)) return offered;
	return { ...merged, v: Math.max(current.v, offered.v) + 1 };
}

/**
 * The copy whose first assignment came first (then the lower agent id): the chat's start time and
 * first agent. A copy that never had an agent has neither.
 */
function firstAssigned(a: ChatMeta, b: ChatMeta): ChatMeta | undefined {
	if (a.startTime === undefined)
		return b.startTime === undefined ? undefined : b;
	if (b.startTime === undefined) return a;
	if (a.startTime !== b.startTime) return a.startTime < b.startTime ? a : b;
	return (a.firstAgentId ?? "") <= (b.firstAgentId ?? "") ? a : b;
}

/**
 * Two copies routed to different first agents (a split brain): the one assigned first keeps the chat.
 * Neither copy ever saw the other's line (a copy that did carries its first agent), so the other's
 * word on membership counts for nothing: its agents, and the ones it transferred to, leave.
 */
function routedApart(
	a: ChatMeta,
	b: ChatMeta
): { kept: ChatMeta; left: ChatMeta } | undefined {
	if (!a.firstAgentId || !b.firstAgentId) return undefined;
	if (a.firstAgentId === b.firstAgentId) return undefined;
	const kept = firstAssigned(a, b)!;
	return { kept, left: kept === a ? b : a };
}

/** What a copy says of an agent: in the chat, transferred away, or nothing (it never saw the agent). */
function memberState(
	meta: ChatMeta,
	agentId: string
): "in" | "out" | undefined {
	if (meta.agentIds.includes(agentId)) return "in";
	return meta.pastAgentIds?.includes(agentId) ? "out" : undefined;
}

/**
 * The agents of the merge, in the newer copy's order (its last agent is the visitor's sticky one). An
 * agent both copies know is where the newer one puts it; at equal versions (a split brain) a removal
 * wins, since neither side can prove the other wrong and letting a removed agent read on is the worse error.
 */
function mergedAgents(older: ChatMeta, newer: ChatMeta): string[] {
	const tie = older.v === newer.v;
	const keep = (id: string, from: ChatMeta, other: ChatMeta) => {
		const there = memberState(other, id);
		if (there === undefined || there === "in") return true;
		return from === newer && !tie;
	};
	return [
		...newer.agentIds.filter((id) => keep(id, newer, older)),
		...older.agentIds.filter(
			(id) => !newer.agentIds.includes(id) && keep(id, older, newer)
		),
	];
}

/** Equal in everything but `v` (key order aside). */
function sameState(a: ChatMeta, b: ChatMeta): boolean {
	return canonical({ ...a, v: 0 }) === canonical({ ...b, v: 0 });
}

function canonical(value: unknown): string {
	return JSON.stringify(value, (_key, v: unknown) =>
		v && typeof v === "object" && !Array.isArray(v)
			? Object.fromEntries(
					Object.entries(v as Record<string, unknown>).sort(([x], [y]) =>
						x < y ? -1 : 1
					)
				)
			: v
	);
}
