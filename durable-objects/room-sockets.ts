/** The room's WebSockets: what each one carries across hibernation, and sending to them. */
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

export function authenticatedSockets(ctx: DurableObjectState): { ws: WebSocket; caller: Caller }[] {
	const result: { ws: WebSocket; caller: Caller }[] = [];
	for (const ws of ctx.getWebSockets()) {
		const { caller } = attachmentOf(ws);
		if (caller) result.push({ ws, caller });
	}
	return result;
}
