/**
 * Merging two copies of a chat's metadata (pure). Two deployments can both change a chat during a
 * split brain, each raising `v` on its own, so the higher `v` alone cannot win: an ended chat stays
 * ended, agents who joined on either side stay in it.
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
	const merged: ChatMeta = {
		...newer,
		status:
			statusRank[offered.status] > statusRank[current.status]
				? offered.status
				: current.status,
		agentIds: [...new Set([...current.agentIds, ...offered.agentIds])],
		agentNames: { ...older.agentNames, ...newer.agentNames },
		beginTime: Math.min(current.beginTime, offered.beginTime),
	};
	if (endTimes.length > 0) merged.endTime = Math.max(...endTimes);
	const startTimes = [current.startTime, offered.startTime].filter(
		(t): t is number => t !== undefined
	);
	if (startTimes.length > 0) merged.startTime = Math.min(...startTimes);
	if (sameState(merged, current)) return current;
	if (sameState(merged, offered)) return offered;
	return { ...merged, v: Math.max(current.v, offered.v) + 1 };
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
