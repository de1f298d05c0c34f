/** The console's shapes: a chat tab, a private message, the view; and the small rules that make them. */
import { MessageType } from "../../src/protocol/offsets.ts";
import type { LiveChatClient } from "../../client/index.ts";
import type { AgentSummary } from "../../src/protocol/dispatch.ts";

export interface ChatTab {
	chatId: string;
	chat: LiveChatClient;
	visitorName: string;
	/** Visitor messages that came while the tab was not in view. */
	unread: number;
	visitorTyping: boolean;
	/** The agent stream's offset the visitor has read up to. */
	visitorReadUpTo: number;
	state: "live" | "ended" | "transferred";
	/** A supervisor watching without joining: it cannot send. */
	monitoring: boolean;
	wrappedUp: boolean;
}

export interface PrivateMessage {
	agentId: string;
	fromMe: boolean;
	text: string;
	at: number;
}

export type View =
	| { kind: "chat"; chatId: string }
	| {
			kind:
				"queue" | "history" | "visitors" | "team" | "supervise" | "preferences";
	  };

export function newTab(
	chat: LiveChatClient,
	visitorName: string,
	monitoring: boolean
): ChatTab {
	return {
		chatId: chat.chatId,
		chat,
		visitorName,
		unread: 0,
		visitorTyping: false,
		visitorReadUpTo: 0,
		state: "live",
		monitoring,
		wrappedUp: false,
	};
}

/** The dispatcher's presence lists the agents it has heard of; the D1 list (GET …/agents) has the rest, offline. */
export function mergePresence(
	known: AgentSummary[],
	live: AgentSummary[]
): AgentSummary[] {
	const byId = new Map<string, AgentSummary>(
		known.map((a) => [a.id, { ...a, status: "offline", free: a.maxChats }])
	);
	for (const agent of live) byId.set(agent.id, agent);
	return [...byId.values()].sort((a, b) => a.name.localeCompare(b.name));
}

export const nameIn = (chat: LiveChatClient) =>
	chat.messages.find((m) => m.type === MessageType.Visitor && m.senderName)
		?.senderName;

/** What the views subscribe to: every change made through `update` re-renders them. */
export class Observable {
	private readonly listeners = new Set<() => void>();

	subscribe(listener: () => void): () => void {
		this.listeners.add(listener);
		return () => this.listeners.delete(listener);
	}

	update(change: () => void): void {
		change();
		this.changed();
	}

	protected changed(): void {
		for (const listener of this.listeners) listener();
	}
}
