/**
 * AgentClient (SPEC §7, §9): an agent console's link to its site. It keeps the agent present over
 * the SiteDispatcher's socket (an HTTP heartbeat while no socket opens), tells the app about
 * presence, the queue and its assignments, and holds one LiveChatClient per chat it has. Its hello
 * lists those chats, so a dispatcher that lost its state has them back from the consoles.
 */
import { z } from "zod";
import {
	AgentSummarySchema,
	ChatTakenSchema,
	QueueEntrySchema,
} from "../src/protocol/agent-frames.ts";
import { ReturnResultSchema } from "../src/protocol/chat.ts";
import { CLOSE_UNAUTHORIZED } from "../src/protocol/ws.ts";
import {
	jsonInit,
	LiveChatClient,
	LiveChatError,
	readOk,
} from "./live-chat-client.ts";
import { openPresence } from "./presence-socket.ts";
import { openWebSocket } from "./socket-session.ts";
import { Transport } from "./transport.ts";
import type { AgentStatus } from "../src/protocol/agent-frames.ts";
import type { AgentSchema } from "../src/protocol/chat.ts";
import type {
	AgentServerFrame,
	AgentSummary,
	QueueEntry,
} from "../src/protocol/dispatch.ts";
import type { ChatEvent } from "./live-chat-client.ts";
import type { PresenceSocket } from "./presence-socket.ts";
import type { OpenSocket } from "./socket-session.ts";
import type { ChatStore } from "./store.ts";
import type { TransportOptions } from "./transport.ts";

export type Agent = z.infer<typeof AgentSchema>;

export interface AgentClientOptions extends TransportOptions {
	siteId: string;
	token: string;
	agent: Agent;
	/** What the agent says it is on connecting; "online" by default. */
	status?: AgentStatus;
	/** How to open a WebSocket; the platform's by default. Without one, the agent stays present by heartbeat. */
	openSocket?: OpenSocket;
	/** Where the chats' copies are kept (and resumed from). */
	store?: ChatStore;
	onEvent?: (event: AgentEvent) => void;
	/** The HTTP heartbeat while no socket is open (the dispatcher keeps an agent online 60 s after one). */
	heartbeatMs?: number;
	/** Pings keep the socket open; one that answers nothing for two of them is taken for dead. */
	pingMs?: number;
}

export type AgentEvent =
	| { type: "presence"; agents: AgentSummary[] }
	| { type: "queue"; waiting: QueueEntry[] }
	/** A chat is now this agent's (routed to it, accepted, transferred to it), with its client. */
	| { type: "assigned"; chatId: string; chat: LiveChatClient }
	/** Transferred away or ended: the client stays usable (history, wrap-up) but is no longer connected. */
	| {
			type: "released";
			chatId: string;
			reason: "transferred" | "ended";
			chat: LiveChatClient;
	  }
	| { type: "invited"; chatId: string; by: string }
	| { type: "private"; from: string; message: string }
	/** A refusal from the dispatcher; `unauthorized` (token expired or revoked) stops the client: log in again. */
	| { type: "error"; chatId?: string; error: { type: string; message: string } }
	| { type: "connection"; via: "websocket" | "heartbeat" | "off" }
	/** What happens in one of the agent's chats. */
	| { type: "chat"; chatId: string; event: ChatEvent };

const QueueAnswerSchema = z.object({ waiting: z.array(QueueEntrySchema) });
const AgentsAnswerSchema = z.object({ agents: z.array(AgentSummarySchema) });
const MyChatsAnswerSchema = z.object({
	chats: z.array(z.object({ chatId: z.string() })),
});

export class AgentClient {
	readonly siteId: string;
	readonly token: string;
	readonly agent: Agent;
	private desired: AgentStatus;
	private readonly transport: Transport;
	private readonly openSocket: OpenSocket | undefined;
	private readonly onEvent: (event: AgentEvent) => void;
	private readonly heartbeatMs: number;
	private readonly pingMs: number;
	private readonly chatClients = new Map<string, LiveChatClient>();
	/** The presence socket, once its hello was answered. */
	private socket: PresenceSocket | undefined;
	private via: "websocket" | "heartbeat" | "off" = "off";
	private connected = false;
	/** Counts connect() and disconnect() calls: a loop or a socket of an earlier connection stops. */
	private connection = 0;
	private lastHeartbeat = 0;
	private wake: (() => void) | undefined;

	constructor(private readonly options: AgentClientOptions) {
		this.siteId = options.siteId;
		this.token = options.token;
		this.agent = options.agent;
		this.desired = options.status ?? "online";
		this.transport = new Transport(options);
		this.openSocket =
			options.openSocket ??
			(typeof WebSocket === "function" ? openWebSocket : undefined);
		this.onEvent = options.onEvent ?? (() => {});
		this.heartbeatMs = options.heartbeatMs ?? 30_000;
		this.pingMs = options.pingMs ?? 25_000;
	}

	static async login(
		options: Omit<AgentClientOptions, "token" | "agent"> & {
			email: string;
			password: string;
		}
	): Promise<AgentClient> {
		const { email, password, ...rest } = options;
		const { token, agent } = await LiveChatClient.agentLogin({
			...rest,
			email,
			password,
		});
		return new AgentClient({ ...rest, token, agent });
	}

	/** The chats this agent has, by id. */
	get chats(): ReadonlyMap<string, LiveChatClient> {
		return this.chatClients;
	}

	get status(): AgentStatus {
		return this.desired;
	}

	get connectionState(): "websocket" | "heartbeat" | "off" {
		return this.via;
	}

	/**
	 * Keeps the agent present until disconnect(), with its chats connected; resolves once it is (over
	 * the socket, or by a first heartbeat). Reconnects with backoff.
	 */
	connect(): Promise<void> {
		if (this.connected) return Promise.resolve();
		this.connected = true;
		const connection = ++this.connection;
		for (const chat of this.chatClients.values()) void chat.connect();
		return new Promise((resolve) => void this.stayPresent(connection, resolve));
	}

	disconnect(): void {
		this.connected = false;
		this.connection++;
		this.wake?.();
		this.socket?.drop();
		this.socket = undefined;
		for (const chat of this.chatClients.values()) chat.disconnect();
		this.connectedVia("off");
	}

	/** Over the socket when one is open (its next hello says it too), else over HTTP. */
	async setStatus(status: AgentStatus): Promise<void> {
		this.desired = status;
		if (!this.socket?.send({ type: "status", status }))
			await this.call("/agents/me/status", jsonInit("PUT", { status }));
	}

	async queue(): Promise<QueueEntry[]> {
		return QueueAnswerSchema.parse(await this.call("/queue")).waiting;
	}

	async agents(): Promise<AgentSummary[]> {
		return AgentsAnswerSchema.parse(await this.call("/agents")).agents;
	}

	/** Takes a waiting chat: `409 conflict` when another agent was first, `409 at_capacity` at maxChats. */
	async accept(chatId: string): Promise<LiveChatClient> {
		const answer = await this.call(`/chats/${chatId}/accept`, {
			method: "POST",
		});
		if (ReturnResultSchema.safeParse(answer).data?.code === 1) {
			throw new LiveChatError(
				503,
				"chat_unavailable",
				"the server lost this chat; it is back once the visitor's client rebuilds it",
				"/accept"
			);
		}
		const taken = ChatTakenSchema.parse(answer);
		return this.took(taken.chatId, taken.chatState);
	}

	/** Hands one of this agent's chats to another agent, who must be online with room for it. */
	async transfer(chatId: string, toAgentId: string): Promise<void> {
		ChatTakenSchema.parse(
			await this.call(
				`/chats/${chatId}/transfer`,
				jsonInit("POST", { toAgentId })
			)
		);
		this.released(chatId, "transferred");
	}

	/** The dispatcher's list of this agent's chats; any this client lacks (assigned while it was away) are added. */
	async refreshChats(): Promise<LiveChatClient[]> {
		const { chats } = MyChatsAnswerSchema.parse(
			await this.call("/agents/me/chats")
		);
		for (const { chatId } of chats)
			if (!this.chatClients.has(chatId)) await this.addChat(chatId);
		return [...this.chatClients.values()];
	}

	private live(connection: number): boolean {
		return this.connected && connection === this.connection;
	}

	private async stayPresent(
		connection: number,
		ready: () => void
	): Promise<void> {
		await this.refreshChats().catch(() => undefined);
		let failures = 0;
		while (this.live(connection)) {
			const opened = Date.now();
			const socket = this.openSocket
				? await this.openPresence(connection)
				: undefined;
			if (socket === "unauthorized") {
				this.signedOut("the dispatcher refused the token");
				break;
			}
			if (socket) {
				ready();
				void this.refreshChats().catch(() => undefined); // assignments made while no socket was open
				const code = await socket.closed;
				if (this.socket === socket) this.socket = undefined;
				if (code === CLOSE_UNAUTHORIZED) {
					this.signedOut("the dispatcher refused the token");
					break;
				}
				if (this.live(connection)) this.connectedVia("heartbeat");
				// A socket that keeps closing soon after it opens gets the same backoff as one that does not open.
				failures = Date.now() - opened > 60_000 ? 0 : failures + 1;
			} else failures++;
			if (!this.live(connection)) break;
			// No socket now: the HTTP heartbeat keeps the agent present meanwhile.
			if (
				Date.now() - this.lastHeartbeat >= this.heartbeatMs &&
				!(await this.heartbeat())
			)
				break;
			ready();
			await this.pause(
				Math.min(
					this.heartbeatMs,
					(this.options.backoffMs ?? 200) *
						2 ** (failures - 1) *
						(0.5 + Math.random())
				)
			);
		}
		ready();
	}

	/** The presence socket, its hello listing this agent's chats, so a dispatcher that lost its state has them back. */
	private async openPresence(
		connection: number
	): Promise<PresenceSocket | "unauthorized" | undefined> {
		const url = `${this.transport.baseUrl.replace(/^http/, "ws")}/v1/sites/${this.siteId}/agents/me/ws`;
		const hello = {
			token: this.token,
			status: this.desired,
			chats: [...this.chatClients.keys()],
		};
		const socket = await openPresence(
			this.openSocket!,
			url,
			hello,
			this.pingMs,
			(frame) => this.live(connection) && this.received(frame)
		);
		if (typeof socket !== "object") return socket;
		if (!this.live(connection)) {
			socket.drop();
			return undefined;
		}
		this.socket = socket;
		this.connectedVia("websocket");
		return socket;
	}

	private received(frame: AgentServerFrame): void {
		switch (frame.type) {
			case "assigned":
			case "accepted":
				return void this.took(frame.chatId, frame.chatState);
			case "released":
				return this.released(frame.chatId, frame.reason);
			default:
				return this.tell(frame);
		}
	}

	/** Present for another 60 s, and what the socket would have told meanwhile. False when the token is refused. */
	private async heartbeat(): Promise<boolean> {
		this.lastHeartbeat = Date.now();
		try {
			await this.call(
				"/agents/me/status",
				jsonInit("PUT", { status: this.desired })
			);
			this.connectedVia("heartbeat");
			await this.refreshChats();
			this.tell({ type: "queue", waiting: await this.queue() });
		} catch (error) {
			if (error instanceof LiveChatError && error.status === 401) {
				this.signedOut(error.message);
				return false;
			}
		}
		return true;
	}

	private took(chatId: string, chatState: string): LiveChatClient {
		return (
			this.chatClients.get(chatId) ??
			this.adopt(new LiveChatClient({ ...this.chatOptions(chatId), chatState }))
		);
	}

	/** A chat the dispatcher lists: from the store's copy when it has one (its chat state can rebuild the chat), else new. */
	private async addChat(chatId: string): Promise<void> {
		const { store } = this.options;
		const resumed = store
			? await LiveChatClient.resume({ ...this.chatOptions(chatId), store })
			: undefined;
		if (!this.chatClients.has(chatId))
			this.adopt(resumed ?? new LiveChatClient(this.chatOptions(chatId)));
	}

	private adopt(chat: LiveChatClient): LiveChatClient {
		this.chatClients.set(chat.chatId, chat);
		if (this.connected) void chat.connect();
		this.tell({ type: "assigned", chatId: chat.chatId, chat });
		return chat;
	}

	private released(chatId: string, reason: "transferred" | "ended"): void {
		const chat = this.chatClients.get(chatId);
		if (!chat) return;
		this.chatClients.delete(chatId);
		chat.disconnect();
		this.tell({ type: "released", chatId, reason, chat });
	}

	private chatOptions(chatId: string) {
		const {
			onEvent: _onEvent,
			status: _status,
			agent: _agent,
			heartbeatMs: _heartbeat,
			pingMs: _ping,
			...shared
		} = this.options;
		return {
			...shared,
			chatId,
			onEvent: (event: ChatEvent) => this.tell({ type: "chat", chatId, event }),
		};
	}

	private signedOut(message: string): void {
		this.disconnect();
		this.tell({ type: "error", error: { type: "unauthorized", message } });
	}

	private connectedVia(via: AgentClient["via"]): void {
		if (via === this.via) return;
		this.via = via;
		this.tell({ type: "connection", via });
	}

	private async call(path: string, init: RequestInit = {}): Promise<unknown> {
		const headers = new Headers(init.headers);
		headers.set("Authorization", `Bearer ${this.token}`);
		return readOk(
			await this.transport.request(`/sites/${this.siteId}${path}`, {
				...init,
				headers,
			}),
			path
		);
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

	/** A listener that throws must not break the connection that noticed the event. */
	private tell(event: AgentEvent): void {
		try {
			this.onEvent(event);
		} catch (error) {
			console.error("AgentClient: onEvent threw", error);
		}
	}
}
