/**
 * Agent consoles' sockets on the SiteDispatcher (SPEC §7), hibernating: hello with the token, the
 * agent's status and its live chats; status changes; accepts. What each console said is kept in its
 * attachment, so a dispatcher that wakes without its state gets it back from the open consoles.
 */
import {
	AgentClientFrameSchema,
	AgentHelloFrameSchema,
} from "../src/protocol/dispatch.ts";
import { parseJsonText } from "../src/protocol/json-text.ts";
import {
	CLOSE_NO_HELLO,
	CLOSE_UNAUTHORIZED,
	HELLO_TIMEOUT_MS,
	MAX_HELLO_CHARS,
} from "../src/protocol/ws.ts";
import { keyRing } from "../src/security/keys.ts";
import { isRevoked } from "../src/security/revocation.ts";
import { verifyToken } from "../src/security/tokens.ts";
import { agentRefOf } from "./room-contract.ts";
import type { AgentServerFrame } from "../src/protocol/dispatch.ts";
import type { AgentStatus } from "./dispatch-model.ts";
import type { AgentRef } from "./room-contract.ts";
import type { SiteDispatcher } from "./site-dispatcher.ts";

/** The Worker names the site on the upgrade it hands over. */
export const DISPATCHER_SITE_HEADER = "X-Dispatcher-Site-Id";
/** Consoles are tagged apart from visitors' page sockets (dispatcher-visitors.ts), which share the object. */
const CONSOLE_TAG = "agent";
/** Frames from a console are small: a hello lists at most 200 chat ids. */
const MAX_AGENT_FRAME_CHARS = 16 * 1024;

interface ConsoleAttachment {
	siteId: string;
	connectedAt: number;
	/** Set by a valid hello. */
	agent?: AgentRef;
	status?: AgentStatus;
	chats?: string[];
	expiresAt?: number;
	/** The token's version, checked against revocations on every frame (SPEC §6). */
	tokenVersion?: number;
}

function sendFrame(ws: WebSocket, frame: AgentServerFrame): void {
	try {
		ws.send(JSON.stringify(frame));
	} catch {
		// closed meanwhile: the console reconnects and says hello again
	}
}

const errorFrame = (
	type: string,
	message: string,
	chatId?: string
): AgentServerFrame => ({
	type: "error",
	...(chatId ? { chatId } : {}),
	error: { type, message },
});

export class DispatcherSockets {
	private readonly known = new WeakMap<WebSocket, ConsoleAttachment>();

	constructor(
		private readonly ctx: DurableObjectState,
		private readonly env: Env,
		private readonly dispatcher: SiteDispatcher
	) {}

	upgrade(request: Request): Response {
		const siteId = request.headers.get(DISPATCHER_SITE_HEADER);
		if (
			!siteId ||
			request.headers.get("Upgrade")?.toLowerCase() !== "websocket"
		)
			return new Response("expected a WebSocket upgrade", { status: 426 });
		const { 0: client, 1: server } = new WebSocketPair();
		this.ctx.acceptWebSocket(server, [CONSOLE_TAG]);
		this.attach(server, { siteId, connectedAt: Date.now() });
		this.ctx.waitUntil(
			this.ctx.storage
				.getAlarm()
				.then((at) =>
					at === null || at > Date.now() + HELLO_TIMEOUT_MS
						? this.ctx.storage.setAlarm(Date.now() + HELLO_TIMEOUT_MS)
						: undefined
				)
		);
		return new Response(null, { status: 101, webSocket: client });
	}

	async receive(ws: WebSocket, raw: string | ArrayBuffer): Promise<void> {
		const attachment = this.attachmentOf(ws);
		if (
			typeof raw !== "string" ||
			raw.length > (attachment.agent ? MAX_AGENT_FRAME_CHARS : MAX_HELLO_CHARS)
		) {
			if (!attachment.agent) return ws.close(CLOSE_UNAUTHORIZED, "hello first");
			return sendFrame(
				ws,
				errorFrame(
					"invalid_request",
					`frames are JSON text of at most ${MAX_AGENT_FRAME_CHARS} characters`
				)
			);
		}
		const text = parseJsonText(raw);
		if (!attachment.agent) {
			const hello = text.ok
				? AgentHelloFrameSchema.safeParse(text.value)
				: undefined;
			if (!hello?.success) return ws.close(CLOSE_UNAUTHORIZED, "hello first");
			return this.hello(ws, attachment, hello.data);
		}
		if (await this.revoked(attachment))
			return ws.close(CLOSE_UNAUTHORIZED, "token revoked");
		if (!text.ok)
			return sendFrame(ws, errorFrame("invalid_request", text.message));
		const parsed = AgentClientFrameSchema.safeParse(text.value);
		if (!parsed.success)
			return sendFrame(
				ws,
				errorFrame(
					"invalid_request",
					parsed.error.issues.map((i) => i.message).join("; ")
				)
			);
		const frame = parsed.data;
		switch (frame.type) {
			case "hello":
				return sendFrame(
					ws,
					errorFrame("invalid_request", "hello was already said")
				);
			case "status":
				this.attach(ws, { ...attachment, status: frame.status });
				await this.dispatcher.setStatus(
					attachment.siteId,
					attachment.agent,
					frame.status
				);
				return;
			case "accept": {
				const answer = await this.dispatcher.accept(
					attachment.siteId,
					attachment.agent,
					frame.chatId
				);
				// On success every console of the agent got `assigned`.
				if ("failure" in answer)
					sendFrame(
						ws,
						errorFrame(
							answer.failure.type,
							answer.failure.message,
							frame.chatId
						)
					);
				return;
			}
		}
	}

	private async hello(
		ws: WebSocket,
		attachment: ConsoleAttachment,
		frame: { token: string; status: AgentStatus; chats: string[] }
	): Promise<void> {
		const claims = await verifyToken(keyRing(this.env), frame.token);
		const agent =
			claims && claims.sid === attachment.siteId
				? agentRefOf(claims)
				: undefined;
		if (!claims || !agent || (await isRevoked(this.env, claims)))
			return ws.close(CLOSE_UNAUTHORIZED, "invalid token");
		this.attach(ws, {
			...attachment,
			agent,
			status: frame.status,
			chats: frame.chats,
			expiresAt: claims.exp * 1000,
			tokenVersion: claims.role === "agent" ? claims.tv : undefined,
		});
		this.dispatcher.hello(agent, frame.status, frame.chats);
		for (const snapshot of await this.dispatcher.snapshot())
			sendFrame(ws, snapshot);
	}

	private async revoked(attachment: ConsoleAttachment): Promise<boolean> {
		if (
			attachment.expiresAt !== undefined &&
			attachment.expiresAt <= Date.now()
		)
			return true;
		// The token was checked at hello; a revocation since then (SPEC §6) is looked up in KV's cache.
		return isRevoked(this.env, {
			role: "agent",
			sid: attachment.siteId,
			sub: attachment.agent!.id,
			tv: attachment.tokenVersion,
		});
	}

	closed(ws: WebSocket, code: number): void {
		const { agent } = this.attachmentOf(ws);
		try {
			ws.close(code === 1005 || code === 1006 ? 1000 : code, "closing");
		} catch {
			// already closed
		}
		if (agent) this.dispatcher.consoleLeft(agent.id);
	}

	/** What every open console said in its hello: the agents, their status and their chats. */
	hellos(): { agent: AgentRef; status: AgentStatus; chats: string[] }[] {
		return this.consoles().flatMap(({ attachment: a }) =>
			a.agent
				? [
						{
							agent: a.agent,
							status: a.status ?? "online",
							chats: a.chats ?? [],
						},
					]
				: []
		);
	}

	/** Closes the agent's consoles whose token is older than `validFrom` (a revocation, SPEC §6). */
	closeRevoked(agentId: string, validFrom: number): void {
		for (const { ws, attachment } of this.consoles()) {
			if (
				attachment.agent?.id === agentId &&
				(attachment.tokenVersion ?? 0) < validFrom
			)
				ws.close(CLOSE_UNAUTHORIZED, "token revoked");
		}
	}

	countOf(agentId: string): number {
		return this.consoles().filter(
			({ attachment }) => attachment.agent?.id === agentId
		).length;
	}

	toAgent(agentId: string, frame: AgentServerFrame): void {
		for (const { ws, attachment } of this.consoles())
			if (attachment.agent?.id === agentId) sendFrame(ws, frame);
	}

	broadcast(frame: AgentServerFrame): void {
		for (const { ws, attachment } of this.consoles())
			if (attachment.agent) sendFrame(ws, frame);
	}

	/** Sockets without a hello after 10 s, or whose token expired, are closed (SPEC §5, §6). */
	closeLate(): void {
		const now = Date.now();
		for (const { ws, attachment } of this.consoles()) {
			if (!attachment.agent && attachment.connectedAt + HELLO_TIMEOUT_MS <= now)
				ws.close(CLOSE_NO_HELLO, "no hello");
			else if (
				attachment.expiresAt !== undefined &&
				attachment.expiresAt <= now
			)
				ws.close(CLOSE_UNAUTHORIZED, "token expired");
		}
	}

	nextDeadline(): number {
		let next = Infinity;
		for (const { attachment } of this.consoles()) {
			next = Math.min(
				next,
				attachment.agent
					? (attachment.expiresAt ?? Infinity)
					: attachment.connectedAt + HELLO_TIMEOUT_MS
			);
		}
		return next;
	}

	private consoles(): { ws: WebSocket; attachment: ConsoleAttachment }[] {
		return this.ctx
			.getWebSockets(CONSOLE_TAG)
			.filter((ws) => ws.readyState === WebSocket.OPEN)
			.map((ws) => ({ ws, attachment: this.attachmentOf(ws) }));
	}

	/**
	 * Attachments are read back once per socket and kept in memory: every assignment looks through all
	 * consoles (toAgent, countOf), and deserializing each one each time is most of a busy dispatcher's work.
	 */
	private attachmentOf(ws: WebSocket): ConsoleAttachment {
		let attachment = this.known.get(ws);
		if (!attachment)
			this.known.set(
				ws,
				(attachment = ws.deserializeAttachment() as ConsoleAttachment)
			);
		return attachment;
	}

	/** Kept with the socket, so it survives hibernation, and in memory. */
	private attach(ws: WebSocket, attachment: ConsoleAttachment): void {
		ws.serializeAttachment(attachment);
		this.known.set(ws, attachment);
	}
}
