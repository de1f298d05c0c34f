/** The room's WebSockets: what each one carries across hibernation, who said hello, and sending to them. */
import type { ServerFrame } from "../src/protocol/ws.ts";
import type { Caller } from "./chat-room.ts";

/** Serialized with the socket (≤ 2 KB), so it survives the room hibernating. */
export interface SocketAttachment {
	siteId: string;
	chatId: string;
	connectedAt: number;
	/** Set by a valid hello; until then the socket may only say hello. */
	caller?: Caller;
}

export const attachmentOf = (ws: WebSocket) => ws.deserializeAttachment() as SocketAttachment;

/** A socket that went away between our look and our send is not an error for anyone else. */
export function sendFrame(ws: WebSocket, frame: ServerFrame): void {
	try {
		ws.send(JSON.stringify(frame));
	} catch {
		// closed meanwhile: its client reconnects and syncs
	}
}

/**
 * Who is behind each authenticated socket, kept in memory so a message does not deserialize every
 * socket's attachment; read back from the attachments once after the room wakes up.
 */
export class RoomSockets {
	private callers: Map<WebSocket, Caller> | undefined;

	constructor(private readonly ctx: DurableObjectState) {}

	authenticated(): Map<WebSocket, Caller> {
		if (!this.callers) {
			this.callers = new Map();
			for (const ws of this.ctx.getWebSockets()) {
				const { caller } = attachmentOf(ws);
				if (caller) this.callers.set(ws, caller);
			}
		}
		return this.callers;
	}

	callerOf(ws: WebSocket): Caller | undefined {
		return this.authenticated().get(ws);
	}

	admit(ws: WebSocket, attachment: SocketAttachment & { caller: Caller }): void {
		ws.serializeAttachment(attachment);
		this.authenticated().set(ws, attachment.caller);
	}

	forget(ws: WebSocket): void {
		this.callers?.delete(ws);
	}
}
