/**
 * Merging two copies of a chat's metadata (pure). Two deployments can both change a chat during a
 * split brain, each raising `v` on its own, so the higher `v` alone cannot win: an ended chat stays
 * ended, agents who joined on either side stay in it. But membership only ever shrinks by a room's own
 * decision (SPEC §6): an agent one copy shows transferred away is in the merge only if a newer copy
 * shows it back in, so replaying an older chatState never re-admits a removed agent.
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
	const pastAgentIds = [
		...new Set([...(newer.pastAgentIds ?? []), ...(older.pastAgentIds ?? [])]),
	];
	const merged: ChatMeta = {
		...newer,
		status:
			statusRank[offered.status] > statusRank[current.status]
				? offered.status
				: current.status,
		agentIds: mergedAgents(older, newer),
		agentNames: { ...older.agentNames, ...newer.agentNames },
		beginTime: Math.min(current.beginTime, offered.beginTime),
	};
	if (pastAgentIds.length > 0) merged.pastAgentIds = pastAgentIds;
	if (endTimes.length > 0) merged.endTime = Math.max(...endTimes);
	const startTimes = [current.startTime, offered.startTime].filter(
		(t): t is number => t !== undefined
	);
	if (startTimes.length > 0) merged.startTime = Math.min(...startTimes);
	if (sameState(merged, current)) return current;
	if (sameState(merged, offered)) return offered;
	return { ...merged, v: Math.max(current.v, offered.v) + 1 };
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
