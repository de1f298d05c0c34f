/**
 * What an agent console's socket on the SiteDispatcher is (SPEC §7): what its attachment keeps, the
 * frames it is sent, and what its frames ask of the dispatcher (dispatcher-sockets.ts handles them).
 */
import type { AgentServerFrame } from "../src/protocol/dispatch.ts";
import type { AgentStatus } from "./dispatch-model.ts";
import type { AcceptAnswer, AgentRef } from "./room-contract.ts";

/** Consoles are tagged apart from visitors' page sockets (dispatcher-visitors.ts), which share the object. */
export const CONSOLE_TAG = "agent";
/** Frames from a console are small: a hello lists at most 200 chat ids. */
export const MAX_AGENT_FRAME_CHARS = 16 * 1024;
/** The Worker passes the site's `limits.framesPerSecondPerSocket` (SPEC §6) on the upgrade, as it does to rooms. */
export const DISPATCHER_FRAMES_LIMIT_HEADER = "X-Dispatcher-Frames-Limit";
export const DEFAULT_FRAMES_PER_SECOND = 20;

export interface ConsoleAttachment {
	siteId: string;
	connectedAt: number;
	framesPerSecond?: number;
	/** Set by a valid hello. */
	agent?: AgentRef;
	status?: AgentStatus;
	/**
	 * The chats this console holds as far as the dispatcher knows: its hello's claims (at most
	 * MAX_CLAIMS), less those released, plus those assigned since. A dispatcher that wakes without its
	 * state (memory mode) asks the rooms about them again.
	 */
	chats?: string[];
	expiresAt?: number;
	/** The token's version, checked against revocations on every frame (SPEC §6). */
	tokenVersion?: number;
	/** The token's id: signing out revokes that one token (revocation.ts). */
	tokenId?: string;
}

export function sendFrame(ws: WebSocket, frame: AgentServerFrame): void {
	try {
		ws.send(JSON.stringify(frame));
	} catch {
		// closed meanwhile: the console reconnects and says hello again
	}
}

export const errorFrame = (
	type: string,
	message: string,
	chatId?: string
): AgentServerFrame => ({
	type: "error",
	...(chatId ? { chatId } : {}),
	error: { type, message },
});

/** What a console's frames ask of the SiteDispatcher, on the same rules as HTTP. */
export interface ConsoleHost {
	hello(
		siteId: string,
		agent: AgentRef,
		status: AgentStatus,
		chats: string[]
	): void;
	snapshot(): Promise<AgentServerFrame[]>;
	/** A status frame: only a change is written and told. */
	statusFrame(siteId: string, agent: AgentRef, status: AgentStatus): void;
	accept(
		siteId: string,
		agent: AgentRef,
		chatId: string
	): Promise<AcceptAnswer>;
	consoleLeft(agentId: string): void;
}
