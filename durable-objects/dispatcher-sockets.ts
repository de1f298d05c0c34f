/**
 * Agent consoles' sockets on the SiteDispatcher (SPEC §7), hibernating: hello with the token, the
 * agent's status and its live chats; status changes; accepts. What each console said is kept in its
 * attachment, so a dispatcher that wakes without its state gets it back from the open consoles.
 */
import {
	AgentClientFrameSchema,
	AgentHelloFrameSchema,
} from "../src/protocol/dispatch.ts";
import {
	CLOSE_NO_HELLO,
	CLOSE_UNAUTHORIZED,
	HELLO_TIMEOUT_MS,
	MAX_HELLO_CHARS,
} from "../src/protocol/ws.ts";
import { keyRing } from "../src/security/keys.ts";
import { isRevoked } from "../src/security/revocation.ts";
import { verifyToken } from "../src/security/tokens.ts";
import { acceptTagged } from "./dispatcher-upgrade.ts";
import { parseFrame } from "./frame-text.ts";
import { agentRefOf } from "./room-contract.ts";
import type { AgentServerFrame } from "../src/protocol/dispatch.ts";
import type { AgentStatus } from "./dispatch-model.ts";
import type { AcceptAnswer, AgentRef } from "./room-contract.ts";

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

/** What a console's frames ask of the SiteDispatcher, on the same rules as HTTP. */
export interface ConsoleHost {
	hello(agent: AgentRef, status: AgentStatus, chats: string[]): void;
	snapshot(): Promise<AgentServerFrame[]>;
	setStatus(siteId: string, agent: AgentRef, status: AgentStatus): unknown;
	accept(
		siteId: string,
		agent: AgentRef,
		chatId: string
	): Promise<AcceptAnswer>;
	consoleLeft(agentId: string): void;
}

export class DispatcherSockets {
	private readonly known = new WeakMap<WebSocket, ConsoleAttachment>();

	constructor(
		private readonly ctx: DurableObjectState,
		private readonly env: Env,
		private readonly dispatcher: ConsoleHost
	) {}

	/** A console's socket, for the dispatcher's site. */
	upgrade(request: Request, siteId: string): Response {
		return acceptTagged(this.ctx, request, CONSOLE_TAG, (ws) =>
			this.attach(ws, { siteId, connectedAt: Date.now() })
		);
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
		if (!attachment.agent) {
			const hello = parseFrame(AgentHelloFrameSchema, raw);
			if (!hello.ok) return ws.close(CLOSE_UNAUTHORIZED, "hello first");
			return this.hello(ws, attachment, hello.value);
		}
		if (await this.revoked(attachment))
			return ws.close(CLOSE_UNAUTHORIZED, "token revoked");
		const parsed = parseFrame(AgentClientFrameSchema, raw);
		if (!parsed.ok)
			return sendFrame(ws, errorFrame("invalid_request", parsed.message));
		const frame = parsed.value;
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
