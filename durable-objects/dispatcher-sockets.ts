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
	CLOSE_LIMIT,
	CLOSE_NO_HELLO,
	CLOSE_UNAUTHORIZED,
	HELLO_TIMEOUT_MS,
	MAX_HELLO_CHARS,
} from "../src/protocol/ws.ts";
import { keyRing } from "../src/security/keys.ts";
import { isRevoked } from "../src/security/revocation.ts";
import { verifyToken } from "../src/security/tokens.ts";
import { MAX_CLAIMS } from "./dispatch-model.ts";
import {
	CONSOLE_TAG,
	DEFAULT_FRAMES_PER_SECOND,
	DISPATCHER_FRAMES_LIMIT_HEADER,
	errorFrame,
	MAX_AGENT_FRAME_CHARS,
	sendFrame,
} from "./dispatcher-console.ts";
import { acceptTagged } from "./dispatcher-upgrade.ts";
import { parseFrame } from "./frame-text.ts";
import { hit } from "./rate-window.ts";
import { agentRefOf } from "./room-contract.ts";
import type { AgentServerFrame } from "../src/protocol/dispatch.ts";
import type { AgentStatus } from "./dispatch-model.ts";
import type { ConsoleAttachment, ConsoleHost } from "./dispatcher-console.ts";
import type { RateWindow } from "./rate-window.ts";
import type { AgentRef } from "./room-contract.ts";

export class DispatcherSockets {
	private readonly known = new WeakMap<WebSocket, ConsoleAttachment>();
	/** Each console's frames in the last second (SPEC §6), in memory: a dispatcher that wakes starts them afresh. */
	private readonly frames = new WeakMap<WebSocket, RateWindow>();

	constructor(
		private readonly ctx: DurableObjectState,
		private readonly env: Env,
		private readonly dispatcher: ConsoleHost
	) {}

	/** A console's socket, for the dispatcher's site. */
	upgrade(request: Request, siteId: string): Response {
		const limit = Number(request.headers.get(DISPATCHER_FRAMES_LIMIT_HEADER));
		const framesPerSecond =
			Number.isInteger(limit) && limit > 0 ? limit : DEFAULT_FRAMES_PER_SECOND;
		return acceptTagged(this.ctx, request, CONSOLE_TAG, (ws) =>
			this.attach(ws, { siteId, connectedAt: Date.now(), framesPerSecond })
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
		if (this.overFrameRate(ws, attachment))
			return ws.close(CLOSE_LIMIT, "too many frames");
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
				if (attachment.status !== frame.status)
					this.attach(ws, { ...attachment, status: frame.status });
				return this.dispatcher.statusFrame(
					attachment.siteId,
					attachment.agent,
					frame.status
				);
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
		const chats = [...new Set(frame.chats)].slice(0, MAX_CLAIMS);
		this.attach(ws, {
			...attachment,
			agent,
			status: frame.status,
			chats,
			expiresAt: claims.exp * 1000,
			tokenVersion: claims.role === "agent" ? claims.tv : undefined,
			tokenId: claims.role === "agent" ? claims.jti : undefined,
		});
		this.dispatcher.hello(attachment.siteId, agent, frame.status, chats);
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
			jti: attachment.tokenId,
		});
	}

	/** Counts the frame against its console's frames per second (SPEC §6), as a chat socket's are. */
	private overFrameRate(ws: WebSocket, attachment: ConsoleAttachment): boolean {
		const taken = hit(
			this.frames.get(ws),
			attachment.framesPerSecond ?? DEFAULT_FRAMES_PER_SECOND,
			1000,
			Date.now()
		);
		if (!taken.ok) return true;
		this.frames.set(ws, taken.state);
		return false;
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

	/** What every open console said in its hello: the agents, their status and the chats they hold. */
	hellos(): {
		siteId: string;
		agent: AgentRef;
		status: AgentStatus;
		chats: string[];
	}[] {
		return this.consoles().flatMap(({ attachment: a }) =>
			a.agent
				? [
						{
							siteId: a.siteId,
							agent: a.agent,
							status: a.status ?? "online",
							chats: a.chats ?? [],
						},
					]
				: []
		);
	}

	/** The agent's chats changed: its consoles' attachments follow, so that a dispatcher waking without its state finds them. */
	noteChats(agentId: string, added: string[], removed: string[]): void {
		for (const { ws, attachment } of this.consoles()) {
			if (attachment.agent?.id !== agentId) continue;
			const before = attachment.chats ?? [];
			const chats = [
				...new Set([...before.filter((id) => !removed.includes(id)), ...added]),
			].slice(0, MAX_CLAIMS);
			if (
				chats.length !== before.length ||
				chats.some((id, i) => id !== before[i])
			)
				this.attach(ws, { ...attachment, chats });
		}
	}

	/** Signing out (SPEC §7): the consoles of that one token close now. */
	closeSession(agentId: string, tokenId: string): void {
		for (const { ws, attachment } of this.consoles())
			if (attachment.agent?.id === agentId && attachment.tokenId === tokenId)
				ws.close(CLOSE_UNAUTHORIZED, "signed out");
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
		// A console lets a released chat go: it is no longer one it holds.
		if (frame.type === "released") this.noteChats(agentId, [], [frame.chatId]);
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
