/**
 * What the chaos run checks on routing (SPEC §17, "Routing under faults"). Pure: it only compares
 * what the run collected.
 *
 * A chat's owner over time is the room's word: every sealed chatState a client or console was handed
 * (answers, `sync` and `state` frames, `assigned` frames, transfer answers), opened. Versions order
 * them. A chat had two owners when one of them names two agents, when two of them at one version
 * name different agents (a split brain), or when an agent that owned it at one version is at a later
 * one neither an owner nor among the agents it was transferred away from (it was dropped without a
 * transfer, so its console still held the chat while another agent got it). A waiting chat has none.
 *
 * What consoles list is checked on snapshots taken once the faults are over, against the rooms' word
 * read then: no console, no dispatcher list (`GET …/agents/me/chats`), no Supervise list
 * (`GET …/live-chats`) names a chat that is not that agent's and live; every agent's free capacity
 * (`GET …/agents`) is its maxChats minus its live chats; no chat still waits.
 */
import type { ChatStatus } from "../src/protocol/chat.ts";

/** One opened chatState, as first seen. */
export interface RoomState {
	v: number;
	status: ChatStatus;
	agentIds: string[];
	pastAgentIds: string[];
	/** Who was handed it, through which deployment, how many seconds into the run. */
	seenBy: string;
	via: string;
	at: number;
}

export interface OwnerFindings {
	/** Chats that had two owners at some time. */
	twoOwners: number;
	/** Chats the room showed waiting with an agent. */
	waitingOwned: number;
	/** Chats still waiting, or never given to an agent, once the faults were over. */
	notRouted: number;
	/** A console, a dispatcher list or the Supervise list naming a chat that is not that agent's and live (one per agent and chat). */
	staleListed: number;
	/** Live chats their owner's console does not list. */
	missingFromConsole: number;
	/** Agents whose free capacity is not maxChats minus their live chats. */
	wrongCapacity: number;
	/** chatStates that did not open under the local keys: the history cannot be trusted whole. */
	statesUnread: number;
	problems: string[];
}

export const OWNER_MUST_BE_ZERO = [
	"twoOwners",
	"waitingOwned",
	"notRouted",
	"staleListed",
	"missingFromConsole",
	"wrongCapacity",
	"statesUnread",
] as const;

export const noOwnerFindings = (): OwnerFindings => ({
	twoOwners: 0,
	waitingOwned: 0,
	notRouted: 0,
	staleListed: 0,
	missingFromConsole: 0,
	wrongCapacity: 0,
	statesUnread: 0,
	problems: [],
});

export function addOwnerFindings(
	into: OwnerFindings,
	more: OwnerFindings
): void {
	for (const key of OWNER_MUST_BE_ZERO) into[key] += more[key];
	into.problems.push(...more.problems);
}

const list = (ids: readonly string[]) => `[${ids.join(", ")}]`;
const described = (s: RoomState) =>
	`v${s.v} ${s.status} ${list(s.agentIds)}${s.pastAgentIds.length > 0 ? ` (past ${list(s.pastAgentIds)})` : ""}, handed to ${s.seenBy} via ${s.via} at ${s.at.toFixed(1)} s`;
const sameSet = (a: readonly string[], b: readonly string[]) =>
	a.length === b.length && a.every((id) => b.includes(id));

/** The chat's owners over time, from every chatState seen: at most one at any time, none while it waits. */
export function checkOwnerHistory(
	chatId: string,
	states: readonly RoomState[]
): OwnerFindings {
	const found = noOwnerFindings();
	const say = (line: string) => found.problems.push(`chat ${chatId}: ${line}`);
	let two = false;
	let waitingOwned = false;
	for (const s of states) {
		if (s.agentIds.length > 1) {
			two = true;
			say(`two owners in the room's own state: ${described(s)}`);
		}
		if (s.status === "waiting" && s.agentIds.length > 0) {
			waitingOwned = true;
			say(`waiting, yet with an owner: ${described(s)}`);
		}
	}
	const byVersion = [...states].sort((a, b) => a.v - b.v || a.at - b.at);
	for (let i = 0; i < byVersion.length; i++) {
		const earlier = byVersion[i]!;
		for (const later of byVersion.slice(i + 1)) {
			if (later.v === earlier.v) {
				if (!sameSet(later.agentIds, earlier.agentIds) && !two) {
					two = true;
					say(
						`two versions ${earlier.v} name different agents: ${described(earlier)}; ${described(later)}`
					);
				}
				continue;
			}
			const dropped = earlier.agentIds.filter(
				(id) => !later.agentIds.includes(id) && !later.pastAgentIds.includes(id)
			);
			if (dropped.length > 0 && !two) {
				two = true;
				say(
					`${list(dropped)} lost the chat without a transfer, so another owner came while it still held it: ${described(earlier)}; then ${described(later)}`
				);
			}
		}
	}
	if (two) found.twoOwners++;
	if (waitingOwned) found.waitingOwned++;
	return found;
}

/** The room's word on a chat when a snapshot was taken; undefined when no room answered for it. */
export interface ChatTruth {
	status: ChatStatus;
	agentIds: string[];
}

/** What the consoles and the dispatcher showed at one moment once the faults were over. */
export interface RoutingSnapshot {
	/** "before the ends", "after the ends". */
	phase: string;
	truth: ReadonlyMap<string, ChatTruth | undefined>;
	/**
	 * The rooms' word on chats no client of the run knows, read because a console or a list named them:
	 * a start whose answer the visitor never got made the chat all the same, and routing gave it out.
	 * An agent's live chat like any other, only not the run's to route or check.
	 */
	strangers: ReadonlyMap<string, ChatTruth | undefined>;
	agents: {
		id: string;
		maxChats: number;
		/** From `GET …/agents`; undefined when the agent is not in the list. */
		free: number | undefined;
		/** The chats its AgentClient holds. */
		console: string[];
		/** `GET …/agents/me/chats` as that agent; undefined when the call failed. */
		dispatcherList: string[] | undefined;
	}[];
	/** `GET …/live-chats` as a supervisor. */
	superviseList: { chatId: string; agentIds: string[] }[] | undefined;
	/** `GET …/queue`. */
	queue: string[] | undefined;
	/** Chats no console ever got. */
	neverAssigned: string[];
}

export function checkRouting(snapshot: RoutingSnapshot): OwnerFindings {
	const found = noOwnerFindings();
	const say = (line: string) =>
		found.problems.push(`${line} (${snapshot.phase})`);
	const truthOf = (chatId: string) =>
		snapshot.truth.get(chatId) ?? snapshot.strangers.get(chatId);
	const live = (chatId: string, agentId: string) => {
		const truth = truthOf(chatId);
		return truth?.status === "chatting" && truth.agentIds.includes(agentId);
	};
	const roomSays = (chatId: string) => {
		const truth = truthOf(chatId);
		return truth
			? `the room says ${truth.status} ${list(truth.agentIds)}`
			: "no room answered for it";
	};
	const stale = new Set<string>();
	const listed = (agentId: string, chatId: string, where: string) => {
		if (live(chatId, agentId)) return;
		say(
			`chat ${chatId}: ${where} lists it as ${agentId}'s; ${roomSays(chatId)}`
		);
		stale.add(`${agentId} ${chatId}`);
	};
	for (const agent of snapshot.agents) {
		for (const chatId of agent.console)
			listed(agent.id, chatId, `${agent.id}'s console`);
		for (const chatId of agent.dispatcherList ?? [])
			listed(agent.id, chatId, "the dispatcher (…/agents/me/chats)");
		if (agent.dispatcherList === undefined) {
			// Nothing shows that list clean: counted.
			say(`agent ${agent.id}: its …/agents/me/chats did not answer`);
			stale.add(`${agent.id} (its list)`);
		}
		const own = [...snapshot.truth.keys(), ...snapshot.strangers.keys()].filter(
			(chatId) => live(chatId, agent.id)
		);
		for (const chatId of own.filter((id) => !agent.console.includes(id))) {
			found.missingFromConsole++;
			say(
				`chat ${chatId}: ${agent.id}'s console does not list it; ${roomSays(chatId)}`
			);
		}
		if (agent.free !== agent.maxChats - own.length) {
			found.wrongCapacity++;
			say(
				`agent ${agent.id}: free ${agent.free ?? "(not listed)"} of ${agent.maxChats}, with ${own.length} live chat(s) ${list(own)}`
			);
		}
	}
	for (const entry of snapshot.superviseList ?? [])
		for (const agentId of entry.agentIds)
			listed(agentId, entry.chatId, "Supervise (…/live-chats)");
	if (snapshot.superviseList === undefined) {
		say("the Supervise list (…/live-chats) did not answer");
		stale.add("(the Supervise list)");
	}
	found.staleListed += stale.size;

	const notRouted = new Set(snapshot.neverAssigned);
	for (const chatId of snapshot.neverAssigned)
		say(`chat ${chatId}: no console was ever given it`);
	for (const [chatId, truth] of snapshot.truth) {
		if (truth?.status !== "waiting") continue;
		notRouted.add(chatId);
		say(`chat ${chatId}: still waiting`);
	}
	for (const chatId of snapshot.queue ?? []) {
		if (!snapshot.truth.has(chatId)) continue; // a chat no client of the run knows (a start whose answer was lost)
		notRouted.add(chatId);
		say(`chat ${chatId}: still in the dispatcher's queue`);
	}
	if (snapshot.queue === undefined) {
		say("the queue (…/queue) did not answer");
		notRouted.add("(the queue)");
	}
	found.notRouted += notRouted.size;
	return found;
}
