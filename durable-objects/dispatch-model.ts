/**
 * The SiteDispatcher's rules (SPEC §7), pure so they are tested in milliseconds: who is online,
 * how much room an agent has, the order of the waiting queue, and who gets the next chat.
 */
import type { AgentRole } from "../src/protocol/chat.ts";

export type AgentStatus = "online" | "away" | "offline";

/** An agent without a socket is online this long after its last `PUT …/status` (its heartbeat). */
export const PRESENCE_TIMEOUT_MS = 60_000;
/** A waiting chat's room re-registers it this often, so a dispatcher that lost its queue has it back. */
export const REREGISTER_EVERY_MS = 30_000;

export interface AgentPresence {
	id: string;
	name: string;
	role: AgentRole;
	maxChats: number;
	/** What the agent said it is (online or away), or offline. */
	declared: AgentStatus;
	/** Its last heartbeat, status change or socket close (epoch ms). */
	lastSeen: number;
	/** Open agent sockets (consoles) of this agent. */
	sockets: number;
	/** Its live chats: counted against maxChats. */
	chats: string[];
	/** When it was last given a chat: among equals, the one waiting longest for work goes first. */
	lastAssignedAt: number;
}

export interface WaitingChat {
	chatId: string;
	visitorId: string;
	visitorName?: string;
	department?: string;
	/** When the visitor asked for a chat (the chat's begin time): the queue's order, kept across rebuilds. */
	requestTime: number;
	/** The agent this visitor chatted with last (from its sealed visitorState), for sticky routing. */
	lastAgentId?: string;
	/** The agent whose invitation this chat answers (SPEC §7): it goes first, like the sticky rule. */
	invitedBy?: string;
	/**
	 * Registered by a room a client's copy just restored (a failover deployment, an eviction): the copy
	 * may be behind a console that holds the chat as its own elsewhere, so the chat is routed only when
	 * its room registers it again from its alarm (RESTORED_HOLD_MS on), after the consoles said hello.
	 */
	restored?: boolean;
}

/** How long a restored waiting chat is held out of automatic routing (a manual accept may take it). */
export const RESTORED_HOLD_MS = 10_000;

/**
 * The waiting chats automatic routing may give out: not one held since its room was restored, and not
 * one a console claims while its room cannot say whose it is (the console's copy would rebuild it as
 * that agent's: routing it too would give it two owners).
 */
export const routable = (
	waiting: readonly WaitingChat[],
	claimed: ReadonlySet<string>
) => waiting.filter((chat) => !chat.restored && !claimed.has(chat.chatId));

/** Who has a chat, in its room's own word (ChatRoom.agentsNow): the chatState is what an `assigned` frame carries. */
export interface RoomAgents {
	status: "waiting" | "chatting" | "ended";
	agentIds: string[];
	pastAgentIds: string[];
	chatState: string;
}

/**
 * What the room's word changes in the dispatcher's loads. The agents it lists and the dispatcher does
 * not count gain the chat (known agents only: one the dispatcher has not heard from counts its chats
 * when its console says hello). The agents it shows removed (transferred away, or the losing side of
 * a split brain) lose it; one it merely does not list keeps it, since a room restored from a client's
 * older copy may not know it yet. An ended chat is lost by all.
 */
export function loadChanges(
	agents: Iterable<Pick<AgentPresence, "id" | "chats">>,
	chatId: string,
	room: Pick<RoomAgents, "status" | "agentIds" | "pastAgentIds">
): { gains: string[]; loses: string[] } {
	const gains: string[] = [];
	const loses: string[] = [];
	for (const agent of agents) {
		const holds = agent.chats.includes(chatId);
		const listed = room.agentIds.includes(agent.id);
		const removed =
			room.status === "ended" ||
			(!listed && room.pastAgentIds.includes(agent.id));
		if (holds && removed) loses.push(agent.id);
		if (!holds && listed && room.status === "chatting") gains.push(agent.id);
	}
	return { gains, loses };
}

/** What the agent is now: offline once it said so, or has neither a socket nor a heartbeat in the last 60 s. */
export function statusOf(agent: AgentPresence, now: number): AgentStatus {
	if (agent.declared === "offline") return "offline";
	if (agent.sockets > 0 || now - agent.lastSeen < PRESENCE_TIMEOUT_MS)
		return agent.declared;
	return "offline";
}

export const freeCapacity = (agent: AgentPresence) =>
	Math.max(0, agent.maxChats - agent.chats.length);

/** When the agent goes offline unless it is heard from again; undefined while a socket holds it. */
export function presenceDeadline(agent: AgentPresence): number | undefined {
	if (agent.declared === "offline" || agent.sockets > 0) return undefined;
	return agent.lastSeen + PRESENCE_TIMEOUT_MS;
}

/** Oldest request first; the chat id settles ties so that every copy of the queue has one order. */
export const queueOrder = (a: WaitingChat, b: WaitingChat) =>
	a.requestTime - b.requestTime ||
	(a.chatId < b.chatId ? -1 : a.chatId > b.chatId ? 1 : 0);

/** 1 = next. Departments queue apart: a chat's position counts only the chats of its own department. */
export function queuePositions(
	queue: Iterable<WaitingChat>
): Map<string, number> {
	const positions = new Map<string, number>();
	const next = new Map<string | undefined, number>();
	for (const chat of [...queue].sort(queueOrder)) {
		const position = (next.get(chat.department) ?? 0) + 1;
		next.set(chat.department, position);
		positions.set(chat.chatId, position);
	}
	return positions;
}

/**
 * Who takes `chat` (SPEC §7), or nobody: online (not away) agents below maxChats; the agent whose
 * invitation the chat answers when that agent qualifies; the visitor's last agent when the site is
 * sticky and that agent qualifies; otherwise the most free capacity, then the
 * one given a chat least recently, then the id (so the choice is the same however the map was built).
 */
export function chooseAgent(
	agents: Iterable<AgentPresence>,
	chat: WaitingChat,
	sticky: boolean,
	now: number
): AgentPresence | undefined {
	const candidates = [...agents].filter(
		(a) =>
			statusOf(a, now) === "online" &&
			freeCapacity(a) > 0 &&
			!a.chats.includes(chat.chatId)
	);
	const invited =
		chat.invitedBy && candidates.find((a) => a.id === chat.invitedBy);
	if (invited) return invited;
	if (sticky && chat.lastAgentId) {
		const last = candidates.find((a) => a.id === chat.lastAgentId);
		if (last) return last;
	}
	candidates.sort(
		(a, b) =>
			freeCapacity(b) - freeCapacity(a) ||
			a.lastAssignedAt - b.lastAssignedAt ||
			(a.id < b.id ? -1 : 1)
	);
	return candidates[0];
}

/** The next routing decisions for a queue: oldest chat first, each to its agent, until no agent is left. */
export function planRouting(
	agents: Iterable<AgentPresence>,
	queue: Iterable<WaitingChat>,
	sticky: boolean,
	now: number
): { chat: WaitingChat; agent: AgentPresence }[] {
	// Copies, so that each decision counts the ones before it.
	const pool = [...agents].map((a) => ({ ...a, chats: [...a.chats] }));
	const plan: { chat: WaitingChat; agent: AgentPresence }[] = [];
	for (const chat of [...queue].sort(queueOrder)) {
		const agent = chooseAgent(pool, chat, sticky, now);
		if (!agent) continue; // another department's chat, or a sticky one, may still find someone
		agent.chats.push(chat.chatId);
		agent.lastAssignedAt = now + plan.length; // keeps the spread even within one round
		plan.push({ chat, agent });
	}
	return plan;
}

// ------------------------------------------------------------------ a console's claims (SPEC §7)

/** What a chat's room says of an agent's claim to it: counted, answered `released` (stale), or neither yet. */
export type Claim = "live" | "stale" | "unknown";

/**
 * The room's word on a claim. Live: the chat is going on with the agent among its agents. Stale: it
 * ended, or the agent left it by a transfer, or it never was the agent's. Unknown: the room has no
 * chat (memory mode after an eviction), or its chat came back by a rebuild that may not list the
 * agent yet (its own rebuild with its chatState would put it back): never stale, since the console's
 * copy is what rebuilds the room.
 */
export function claimOf(
	chat:
		{ status: string; agentIds: string[]; pastAgentIds?: string[] } | undefined,
	agentId: string,
	restored: boolean
): Claim {
	if (!chat) return "unknown";
	if (chat.status === "ended") return "stale";
	if (chat.agentIds.includes(agentId)) return "live";
	if (chat.pastAgentIds?.includes(agentId)) return "stale";
	return restored ? "unknown" : "stale";
}

/** The most claims asked about per hello, and kept per console (an attachment holds 2 KB: 32 ids fit with room to spare). */
export const MAX_CLAIMS = 32;

/**
 * The claims of one hello the dispatcher asks rooms about: each once, in the console's order, at most
 * a few more than the agent may hold. Those beyond are neither counted nor released: a console holds
 * so many only when most are stale, and as those are released, its next hello reaches the rest.
 */
export const claimsToCheck = (chats: readonly string[], maxChats: number) =>
	[...new Set(chats)].slice(0, Math.min(maxChats + 5, MAX_CLAIMS));

/** A claim no room could answer is asked again after 1, 2, 4 … s, at most every 30 s, for 5 minutes. */
export const CLAIM_RECHECK_FOR_MS = 5 * 60_000;
export const claimRecheckDelay = (tries: number) =>
	Math.min(1000 * 2 ** tries, 30_000);
