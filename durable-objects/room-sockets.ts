import {
	CLOSE_FORBIDDEN,
	CLOSE_NO_HELLO,
	CLOSE_UNAUTHORIZED,
	HELLO_TIMEOUT_MS,
} from "../src/protocol/ws.ts";
import { Clock } from "./clock.ts";
import type { ChatMeta } from "../src/protocol/chat-state.ts";
import type { ChatMessage } from "../src/protocol/chat.ts";
import type { ServerFrame } from "../src/protocol/ws.ts";
import type { Caller, RoomAnswer } from "./room-contract.ts";

/** The room's WebSockets: what each one carries across hibernation, who said hello, their limits, and sending to them. */

/** Serialized with the socket (≤ 2 KB), so it survives the room hibernating. */
export interface SocketAttachment {
	siteId: string;
	chatId: string;
	connectedAt: number;
	/** The site's limit (SPEC §6), fixed when the socket opened. */
	framesPerSecond: number;
	/** Set by a valid hello; until then the socket may only say hello. */
	caller?: Caller;
	/** When the hello's token expires (epoch ms): the socket is closed then (SPEC §6). */
	expiresAt?: number;
}

export const attachmentOf = (ws: WebSocket) =>
	ws.deserializeAttachment() as SocketAttachment;

/** A socket that went away between our look and our send is not an error for anyone else. */
export function sendFrame(ws: WebSocket, frame: ServerFrame): void {
	try {
		ws.send(JSON.stringify(frame));
	} catch {
		// closed meanwhile: its client reconnects and syncs
	}
}

export const errorFrame = (
	type: string,
	message: string,
	retryAfter?: number
) => ({
	type: "error" as const,
	error:
		retryAfter === undefined
			? { type, message }
			: { type, message, retryAfter },
});

/** A room answer as frames: an error, a request to rebuild, or a sync of what the socket lacks. */
export function replyFrame(ws: WebSocket, answer: RoomAnswer): void {
	if ("failure" in answer)
		return sendFrame(
			ws,
			errorFrame(
				answer.failure.type,
				answer.failure.message,
				answer.failure.retryAfter
			)
		);
	if (answer.code === 1 && answer.messages.length === 0) {
		const frame: ServerFrame = {
			type: "rebuild",
			visitorDataOffset: answer.visitorDataOffset,
			agentDataOffset: answer.agentDataOffset,
		};
		if (answer.diverged) frame.diverged = answer.diverged;
		return sendFrame(ws, frame);
	}
	sendFrame(ws, { type: "sync", ...answer, code: answer.code === 1 ? 1 : 0 });
}

/** What one commit tells the chat's sockets. */
export interface Change {
	messages: ChatMessage[];
	state: { chatState: string; status: ChatMeta["status"] } | undefined;
	visitorState: string | undefined;
	endedNow: boolean;
}

/** A change's frames for one socket, without the messages it already holds (`has`). */
export function tell(
	ws: WebSocket,
	caller: Caller,
	change: Change,
	has?: ReadonlySet<string>
): void {
	for (const message of change.messages)
		if (!has?.has(message.id)) sendFrame(ws, { type: "message", message });
	if (change.state)
		sendFrame(ws, {
			type: "state",
			...change.state,
			...(caller.role === "visitor" && change.visitorState
				? { visitorState: change.visitorState }
				: {}),
		});
	if (change.endedNow) sendFrame(ws, { type: "ended" });
}

/** What one socket did lately, in memory only: a room that hibernates starts these afresh, which errs generously. */
interface Recent {
	/** The socket's limit, from its attachment: read once, not on every frame. */
	framesPerSecond: number;
	second: number;
	frames: number;
	typing?: { on: boolean; at: number };
	read?: { visitorDataOffset: number; agentDataOffset: number };
}

/** A socket that keeps typing is relayed again after this long, so a late joiner still sees it. */
export const TYPING_REPEAT_MS = 3000;

/**
 * Who is behind each authenticated socket, kept in memory so a message does not deserialize every
 * socket's attachment; read back from the attachments once after the room wakes up.
 */
export class RoomSockets {
	private callers: Map<WebSocket, Caller> | undefined;
	private readonly recent = new Map<WebSocket, Recent>();
	/** Closed by us in this life of the room: the runtime lists them until the close completes. */
	private readonly closed = new WeakSet<WebSocket>();

	constructor(
		private readonly ctx: DurableObjectState,
		/** What the deadlines and windows below are measured with (a test stops it: durable-objects/clock.ts). */
		readonly clock = new Clock()
	) {}

	authenticated(): Map<WebSocket, Caller> {
		if (!this.callers) {
			this.callers = new Map();
			for (const ws of this.open()) {
				const { caller } = attachmentOf(ws);
				if (caller) this.callers.set(ws, caller);
			}
		}
		return this.callers;
	}

	callerOf(ws: WebSocket): Caller | undefined {
		return this.authenticated().get(ws);
	}

	/** Sockets still open (not closing). */
	open(): WebSocket[] {
		return this.ctx
			.getWebSockets()
			.filter(
				(ws) =>
					!this.closed.has(ws) &&
					ws.readyState !== WebSocket.CLOSING &&
					ws.readyState !== WebSocket.CLOSED
			);
	}

	openCount(): number {
		return this.open().length;
	}

	admit(
		ws: WebSocket,
		attachment: SocketAttachment & { caller: Caller }
	): void {
		ws.serializeAttachment(attachment);
		this.authenticated().set(ws, attachment.caller);
	}

	close(ws: WebSocket, code: number, reason: string): void {
		this.forget(ws);
		this.closed.add(ws);
		try {
			ws.close(code, reason);
		} catch {
			// already closing
		}
	}

	forget(ws: WebSocket): void {
		this.callers?.delete(ws);
		this.recent.delete(ws);
	}

	/** The sockets of agents taken out of the chat (a transfer) are closed at once: they may read no further. */
	closeRemoved(agentIds: readonly string[]): void {
		if (agentIds.length === 0) return;
		for (const [ws, caller] of this.authenticated())
			if (caller.role === "agent" && agentIds.includes(caller.id))
				this.close(ws, CLOSE_FORBIDDEN, "not_in_chat");
	}

	/** Closes the sockets past their deadline: no hello in 10 s, or a token that expired (SPEC §6). */
	closeLate(now = this.clock.now()): void {
		for (const ws of this.open()) {
			const { caller, connectedAt, expiresAt } = attachmentOf(ws);
			if (!caller && connectedAt + HELLO_TIMEOUT_MS <= now)
				this.close(ws, CLOSE_NO_HELLO, "no hello");
			else if (caller && expiresAt !== undefined && expiresAt <= now)
				this.close(ws, CLOSE_UNAUTHORIZED, "token expired");
		}
	}

	/** The earliest deadline of an open socket: a hello still owed, or a token that expires. */
	nextDeadline(): number {
		let next = Infinity;
		for (const ws of this.open()) {
			const { caller, connectedAt, expiresAt } = attachmentOf(ws);
			if (!caller) next = Math.min(next, connectedAt + HELLO_TIMEOUT_MS);
			else if (expiresAt !== undefined) next = Math.min(next, expiresAt);
		}
		return next;
	}

	/** Counts this frame against its socket's frames per second (SPEC §6). */
	overFrameRate(ws: WebSocket): boolean {
		const second = Math.floor(this.clock.now() / 1000);
		const recent = this.recentOf(ws);
		if (recent.second !== second) {
			recent.second = second;
			recent.frames = 0;
		}
		return ++recent.frames > recent.framesPerSecond;
	}

	/** Typing and read frames are coalesced (SPEC §6): only a change, or a typing that goes on, is passed to the others. */
	worthRelaying(
		ws: WebSocket,
		frame:
			| { type: "typing"; on: boolean }
			| { type: "read"; visitorDataOffset: number; agentDataOffset: number }
	): boolean {
		const recent = this.recentOf(ws);
		const now = this.clock.now();
		if (frame.type === "typing") {
			const last = recent.typing;
			if (
				last &&
				last.on === frame.on &&
				(!frame.on || now - last.at < TYPING_REPEAT_MS)
			)
				return false;
			recent.typing = { on: frame.on, at: now };
			return true;
		}
		const last = recent.read;
		if (
			last &&
			frame.visitorDataOffset <= last.visitorDataOffset &&
			frame.agentDataOffset <= last.agentDataOffset
		)
			return false;
		recent.read = {
			visitorDataOffset: frame.visitorDataOffset,
			agentDataOffset: frame.agentDataOffset,
		};
		return true;
	}

	private recentOf(ws: WebSocket): Recent {
		let recent = this.recent.get(ws);
		if (!recent) {
			const { framesPerSecond } = attachmentOf(ws);
			this.recent.set(ws, (recent = { framesPerSecond, second: 0, frames: 0 }));
		}
		return recent;
	}
}
