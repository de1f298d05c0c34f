/**
 * An agent console's socket on the SiteDispatcher (SPEC §7): the hello, pings that keep it open
 * (answered by the runtime without waking the dispatcher), and the frames the dispatcher pushes.
 */
import { AgentServerFrameSchema } from "../src/protocol/agent-frames.ts";
import { CLOSE_UNAUTHORIZED, HELLO_TIMEOUT_MS } from "../src/protocol/ws.ts";
import type { AgentStatus } from "../src/protocol/agent-frames.ts";
import type { AgentServerFrame } from "../src/protocol/dispatch.ts";
import type { OpenSocket } from "./socket-session.ts";

export interface PresenceSocket {
	/** Whether the frame went out. */
	send(frame: unknown): boolean;
	/** Closed for this side at once: a dead socket may never finish the close handshake. */
	drop(): void;
	/** Settles with the close code once the socket is closed, from either side. */
	closed: Promise<number>;
}

export interface PresenceHello {
	token: string;
	status: AgentStatus;
	chats: string[];
}

/**
 * Opens the socket and says hello; the dispatcher answers with the presence and the queue. Resolves
 * with the socket once it did, "unauthorized" when it closed the socket on the token, and undefined
 * when the socket did not open or the dispatcher did not answer in time. A socket that answers
 * nothing, not even a pong, for two pings is taken for dead and dropped.
 */
export async function openPresence(
	open: OpenSocket,
	url: string,
	hello: PresenceHello,
	pingMs: number,
	onFrame: (frame: AgentServerFrame) => void
): Promise<PresenceSocket | "unauthorized" | undefined> {
	let ws: WebSocket;
	try {
		ws = await open(url);
	} catch {
		return undefined;
	}
	let end!: (code: number) => void;
	const closed = new Promise<number>((resolve) => (end = resolve));
	const drop = () => {
		try {
			ws.close(1000);
		} catch {
			// already closed
		}
		end(1000);
	};
	let heard = Date.now();
	let answered!: (yes: boolean) => void;
	const greeted = new Promise<boolean>((resolve) => (answered = resolve));
	ws.addEventListener("close", (event) => end(event.code));
	ws.addEventListener("message", (event) => {
		heard = Date.now();
		answered(true);
		const frame = parseFrame(String(event.data));
		if (frame) onFrame(frame);
	});
	sent(ws, JSON.stringify({ type: "hello", ...hello }));
	const timer = setTimeout(() => answered(false), HELLO_TIMEOUT_MS);
	void closed.then(() => answered(false));
	const ok = await greeted;
	clearTimeout(timer);
	if (!ok) {
		drop();
		return (await closed) === CLOSE_UNAUTHORIZED ? "unauthorized" : undefined;
	}
	const pinger = setInterval(
		() =>
			Date.now() - heard > 2 * pingMs || !sent(ws, "ping") ? drop() : undefined,
		pingMs
	);
	void closed.then(() => clearInterval(pinger));
	return { send: (frame) => sent(ws, JSON.stringify(frame)), drop, closed };
}

function parseFrame(data: string): AgentServerFrame | undefined {
	if (data === "pong") return undefined;
	try {
		return AgentServerFrameSchema.safeParse(JSON.parse(data)).data;
	} catch {
		return undefined;
	}
}

/** A socket that closed meanwhile throws on send in some runtimes. */
function sent(ws: WebSocket, data: string): boolean {
	try {
		ws.send(data);
		return true;
	} catch {
		return false;
	}
}
