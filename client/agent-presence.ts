/**
 * An agent's presence on its site's dispatcher (SPEC §7): the presence socket while one opens, with
 * an HTTP heartbeat while none does (the dispatcher keeps an agent online 60 s after one), and
 * reconnecting with backoff. A token the dispatcher refuses stops it.
 */
import { CLOSE_UNAUTHORIZED } from "../src/protocol/ws.ts";
import { Connections } from "./connection.ts";
import { LiveChatError } from "./http.ts";
import { openPresence } from "./presence-socket.ts";
import { openWebSocket } from "./socket-session.ts";
import type { AgentServerFrame } from "../src/protocol/dispatch.ts";
import type { PresenceHello, PresenceSocket } from "./presence-socket.ts";
import type { OpenSocket } from "./socket-session.ts";
import type { Transport } from "./transport.ts";

export type Via = "websocket" | "heartbeat" | "off";

/** What the presence needs of its agent's client. */
export interface PresenceHost {
	hello(): PresenceHello;
	/** The HTTP heartbeat: the agent's status, put again. */
	putStatus(): Promise<unknown>;
	/** What the socket would have told meanwhile: the agent's chats and the queue. */
	catchUp(): Promise<void>;
	refreshChats(): Promise<unknown>;
	received(frame: AgentServerFrame): void;
	signedOut(message: string): void;
	/** How the agent is present now: a `connection` event. */
	connectedVia(via: Via): void;
}

export class AgentPresence {
	/** The presence socket, once its hello was answered. */
	socket: PresenceSocket | undefined;
	private readonly connections = new Connections();
	private lastHeartbeat = 0;
	private wake: (() => void) | undefined;

	private readonly openSocket: OpenSocket | undefined;
	private readonly timing: {
		heartbeatMs: number;
		pingMs: number;
		backoffMs: number;
	};
	via: Via = "off";

	constructor(
		private readonly host: PresenceHost,
		private readonly transport: Transport,
		private readonly siteId: string,
		options: {
			openSocket?: OpenSocket;
			heartbeatMs?: number;
			pingMs?: number;
			backoffMs?: number;
		}
	) {
		this.openSocket =
			options.openSocket ??
			(typeof WebSocket === "function" ? openWebSocket : undefined);
		this.timing = {
			heartbeatMs: options.heartbeatMs ?? 30_000,
			pingMs: options.pingMs ?? 25_000,
			backoffMs: options.backoffMs ?? 200,
		};
	}

	get connected(): boolean {
		return this.connections.connected;
	}

	/** Resolves once the agent is present (over the socket, or by a first heartbeat). */
	connect(): Promise<void> {
		const connection = this.connections.start();
		if (connection === undefined) return Promise.resolve();
		return new Promise((resolve) => void this.stayPresent(connection, resolve));
	}

	disconnect(): void {
		this.connections.stop();
		this.wake?.();
		this.socket?.drop();
		this.socket = undefined;
		this.connectedVia("off");
	}

	private connectedVia(via: Via): void {
		if (via === this.via) return;
		this.via = via;
		this.host.connectedVia(via);
	}

	private async stayPresent(
		connection: number,
		ready: () => void
	): Promise<void> {
		const live = () => this.connections.live(connection);
		await this.host.refreshChats().catch(() => undefined);
		let failures = 0;
		while (live()) {
			const opened = Date.now();
			const socket = this.openSocket ? await this.open(connection) : undefined;
			if (socket === "unauthorized") {
				this.host.signedOut("the dispatcher refused the token");
				break;
			}
			if (socket) {
				ready();
				void this.host.refreshChats().catch(() => undefined); // assignments made while no socket was open
				const code = await socket.closed;
				if (this.socket === socket) this.socket = undefined;
				if (code === CLOSE_UNAUTHORIZED) {
					this.host.signedOut("the dispatcher refused the token");
					break;
				}
				if (live()) this.connectedVia("heartbeat");
				// A socket that keeps closing soon after it opens gets the same backoff as one that does not open.
				failures = Date.now() - opened > 60_000 ? 0 : failures + 1;
			} else failures++;
			if (!live()) break;
			// No socket now: the HTTP heartbeat keeps the agent present meanwhile.
			if (
				Date.now() - this.lastHeartbeat >= this.timing.heartbeatMs &&
				!(await this.heartbeat())
			)
				break;
			ready();
			await this.pause(
				Math.min(
					this.timing.heartbeatMs,
					this.timing.backoffMs * 2 ** (failures - 1) * (0.5 + Math.random())
				)
			);
		}
		ready();
	}

	/** The presence socket, its hello listing this agent's chats, so a dispatcher that lost its state has them back. */
	private async open(
		connection: number
	): Promise<PresenceSocket | "unauthorized" | undefined> {
		const socket = await openPresence(
			this.openSocket!,
			`${this.transport.baseUrl.replace(/^http/, "ws")}/v1/sites/${this.siteId}/agents/me/ws`,
			this.host.hello(),
			this.timing.pingMs,
			(frame) => this.connections.live(connection) && this.host.received(frame)
		);
		if (typeof socket !== "object") return socket;
		if (!this.connections.live(connection)) {
			socket.drop();
			return undefined;
		}
		this.socket = socket;
		this.connectedVia("websocket");
		return socket;
	}

	/** Present for another 60 s, and what the socket would have told meanwhile. False when the token is refused. */
	private async heartbeat(): Promise<boolean> {
		this.lastHeartbeat = Date.now();
		try {
			await this.host.putStatus();
			this.connectedVia("heartbeat");
			await this.host.catchUp();
		} catch (error) {
			if (error instanceof LiveChatError && error.status === 401) {
				this.host.signedOut(error.message);
				return false;
			}
		}
		return true;
	}

	/** A wait that disconnect() cuts short. */
	private pause(ms: number): Promise<void> {
		return new Promise((resolve) => {
			const done = () => {
				clearTimeout(timer);
				this.wake = undefined;
				resolve();
			};
			const timer = setTimeout(done, ms);
			this.wake = done;
		});
	}
}
