/** The chaos run's shapes: its options, a chat under test, and the figures a run reports. */
import type { LiveChatClient } from "../client/index.ts";
import type { Findings, Side } from "./chaos-check.ts";
import type { OwnerFindings } from "./chaos-owners.ts";

export interface ChaosOptions {
	chatState: "durable" | "memory";
	/** How long the faults last. */
	seconds: number;
	chats: number;
	/** Agent consoles online in auto mode (SPEC §17), and how many chats each may have. */
	agents: number;
	maxChats: number;
	/** The two deployments' ports. */
	ports: [number, number];
	/** A fresh folder for the two deployments' state. */
	workDir: string;
	/** Where the traces of chats with problems go (a JSON file); the system's temp folder by default. */
	tracesDir?: string;
	/** How long the clients get to agree after the faults, and the transcripts to reach D1 after the ends. */
	settleMs?: number;
	persistMs?: number;
	log?: (line: string) => void;
}

export interface ChatUnderTest {
	index: number;
	id: string;
	socket: boolean;
	/** The visitor's client; the agent side's is the one of the agent whose console last got the chat (none before). */
	clients: { visitor: LiveChatClient; agent?: LiveChatClient };
	/** The agent the chat is with as far as the consoles tell (assigned, not released since): its sends go on. */
	agentId?: string;
	/** The agent-side client of every agent whose console got the chat (an earlier one's stays as it was released). */
	agentClients: Map<string, LiveChatClient>;
	/** The agent side's sends and transfers, one at a time: a transfer flushes first and waits for the send in flight. */
	agentTurn: Promise<unknown>;
	transferring: boolean;
	/** Every sealed chatState handed to anyone about this chat, once each: who first, through which deployment, when (s). */
	sealedStates: Map<string, { seenBy: string; via: string; at: number }>;
	/** Ids each side sent, in order, and the ones whose send() resolved. */
	sent: Record<Side, string[]>;
	resolved: Set<string>;
	/** Deployments that answered an end call of this chat. */
	endedOn: Set<string>;
	trace: string[];
}

export interface ChaosFigures extends Findings, OwnerFindings {
	chatState: "durable" | "memory";
	seconds: number;
	chats: number;
	socketChats: number;
	agents: number;
	maxChats: number;
	/** Chats some console was given. */
	routed: number;
	transfers: TransferTally;
	dispatcherEvictions: number;
	/** Chats no client of the run knows (a start whose answer was lost) found given to a console: checked like the others, not counted as routed. */
	strangers: number;
	/** Distinct chatStates read for the owners' history, and those that did not open (counted in twoOwners' problems). */
	statesSeen: number;
	messagesAccepted: number;
	/** Still in an outbox after the settling: never accepted, so not counted as lost, but reported. */
	unsent: number;
	/** Chats whose clients had not converged when the settling time was up. */
	unsettled: number;
	/** Chats with a client call (send, poll, flush, end) that had not come back a long while after the faults stopped. */
	stuck: number;
	evictions: number;
	crashes: number;
	switches: number;
	/** code 1 answers and `rebuild` frames: the server asked for a rebuild. */
	rebuildRequests: number;
	/** `/rebuild` calls and `rebuild` frames: the clients uploaded. */
	rebuilds: number;
	/** Answers and frames naming diverged streams (SPEC §3's chains): split brains found. */
	divergences: number;
	/** HTTP requests still unsettled 5 s after their own timeout should have ended them. */
	hungRequests: number;
	/** Sockets the harness closed because the far side went silent (no pong for 15 s). */
	silentSockets: number;
	/** Sockets still open after every client's disconnect() (and the chatter stopped). */
	socketsOpenAfterDisconnect: number;
	clientErrors: Record<string, number>;
	/** Where the traces of the chats with problems were written, if any had. */
	tracesFile?: string;
}

export interface TransferTally {
	/** Transfers asked for, and how they went: done, refused by the service (409), failed on the way (unreachable, 5xx). */
	asked: number;
	done: number;
	refused: number;
	failed: number;
}
