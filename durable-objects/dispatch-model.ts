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
 * Who takes `chat` (SPEC §7), or nobody: online (not away) agents below maxChats; the visitor's last
 * agent when the site is sticky and that agent qualifies; otherwise the most free capacity, then the
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
