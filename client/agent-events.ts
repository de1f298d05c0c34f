/** What an AgentClient is given and what it tells its app (SPEC §7, §9): the console's side of the dispatcher's frames. */
import type { AgentStatus } from "../src/protocol/agent-frames.ts";
import type { AgentSchema } from "../src/protocol/chat.ts";
import type {
	AgentSummary,
	QueueEntry,
	ReleaseReason,
} from "../src/protocol/dispatch.ts";
import type { ChatEvent, LiveChatClient } from "./live-chat-client.ts";
import type { OpenSocket } from "./socket-session.ts";
import type { ChatStore } from "./store.ts";
import type { TransportOptions } from "./transport.ts";
import type { z } from "zod";

export type Agent = z.infer<typeof AgentSchema>;

export interface AgentClientOptions extends TransportOptions {
	siteId: string;
	token: string;
	agent: Agent;
	/** What the agent says it is on connecting; "online" by default. */
	status?: AgentStatus;
	/** How to open a WebSocket; the platform's by default. Without one, the agent stays present by heartbeat. */
	openSocket?: OpenSocket;
	/** Where the chats' copies are kept (and resumed from). */
	store?: ChatStore;
	onEvent?: (event: AgentEvent) => void;
	/** The HTTP heartbeat while no socket is open (the dispatcher keeps an agent online 60 s after one). */
	heartbeatMs?: number;
	/** Pings keep the socket open; one that answers nothing for two of them is taken for dead. */
	pingMs?: number;
}

export type AgentEvent =
	| { type: "presence"; agents: AgentSummary[] }
	| { type: "queue"; waiting: QueueEntry[] }
	/** A chat is now this agent's (routed to it, accepted, transferred to it), with its client. */
	| { type: "assigned"; chatId: string; chat: LiveChatClient }
	/**
	 * Transferred away or ended: the client stays usable (history, wrap-up) but is no longer connected.
	 * `stale`: the chat's room says it is not this agent's live chat (ended, or transferred away, while
	 * this console was not told): its copy is gone from the store too.
	 */
	| {
			type: "released";
			chatId: string;
			reason: ReleaseReason;
			chat: LiveChatClient;
	  }
	| { type: "invited"; chatId: string; by: string }
	| { type: "private"; from: string; message: string }
	/** A refusal from the dispatcher; `unauthorized` (token expired or revoked) stops the client: log in again. */
	| { type: "error"; chatId?: string; error: { type: string; message: string } }
	| { type: "connection"; via: "websocket" | "heartbeat" | "off" }
	/** What happens in one of the agent's chats. */
	| { type: "chat"; chatId: string; event: ChatEvent };
