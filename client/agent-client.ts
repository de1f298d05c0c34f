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
import { AgentPresence } from "./agent-presence.ts";
import { storeKey } from "./chat-copy.ts";
import { jsonInit, lostChat, readOk, refuseLostChat } from "./http.ts";
import { LiveChatClient } from "./live-chat-client.ts";
import { Transport } from "./transport.ts";
import type { AgentStatus } from "../src/protocol/agent-frames.ts";
import type {
	AgentServerFrame,
	AgentSummary,
	QueueEntry,
	ReleaseReason,
} from "../src/protocol/dispatch.ts";
import type { Agent, AgentClientOptions, AgentEvent } from "./agent-events.ts";
import type { ChatEvent } from "./live-chat-client.ts";

export type { Agent, AgentClientOptions, AgentEvent } from "./agent-events.ts";

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
	private readonly onEvent: (event: AgentEvent) => void;
	private readonly chatClients = new Map<string, LiveChatClient>();
	private readonly presence: AgentPresence;

	constructor(private readonly options: AgentClientOptions) {
		this.siteId = options.siteId;
		this.token = options.token;
		this.agent = options.agent;
		this.desired = options.status ?? "online";
		this.transport = new Transport(options);
		this.onEvent = options.onEvent ?? (() => {});
		this.presence = new AgentPresence(
			{
				hello: () => ({
					token: this.token,
					status: this.desired,
					chats: [...this.chatClients.keys()],
				}),
				putStatus: () =>
					this.call(
						"/agents/me/status",
						jsonInit("PUT", { status: this.desired })
					),
				catchUp: async () => {
					await this.refreshChats();
					this.tell({ type: "queue", waiting: await this.queue() });
				},
				refreshChats: () => this.refreshChats(),
				received: (frame) => this.received(frame),
				signedOut: (message) => this.signedOut(message),
				connectedVia: (via) => this.tell({ type: "connection", via }),
			},
			this.transport,
			this.siteId,
			options
		);
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
		return this.presence.via;
	}

	/**
	 * Keeps the agent present until disconnect(), with its chats connected; resolves once it is (over
	 * the socket, or by a first heartbeat). Reconnects with backoff.
	 */
	connect(): Promise<void> {
		if (!this.presence.connected)
			for (const chat of this.chatClients.values()) void chat.connect();
		return this.presence.connect();
	}

	disconnect(): void {
		for (const chat of this.chatClients.values()) chat.disconnect();
		this.presence.disconnect();
	}

	/**
	 * Signs the agent out (SPEC §7): offline at once (a `status` frame on the open socket, which then
	 * closes with 1000; over HTTP without one), its chats disconnected, and the token revoked on the
	 * server (`DELETE …/agent-sessions/current`), so that it no longer works anywhere. Rejects when the
	 * server could not be told: the token then works until it expires.
	 */
	async signOut(): Promise<void> {
		const offline = { type: "status", status: "offline" } as const;
		this.desired = offline.status;
		const told = this.presence.socket?.send(offline);
		this.disconnect();
		// Without a socket, over HTTP (setStatus finds none now).
		if (!told) await this.setStatus("offline").catch(() => undefined);
		const path = "/agent-sessions/current";
		const response = await this.transport.request(
			`/sites/${this.siteId}${path}`,
			{
				method: "DELETE",
				headers: { Authorization: `Bearer ${this.token}` },
			}
		);
		// 204, no body; a token already refused (401) is as signed out as it gets.
		if (!response.ok && response.status !== 401) await readOk(response, path);
	}

	/** Over the socket when one is open (its next hello says it too), else over HTTP. */
	async setStatus(status: AgentStatus): Promise<void> {
		this.desired = status;
		if (!this.presence.socket?.send({ type: "status", status }))
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
		refuseLostChat(answer);
		const taken = ChatTakenSchema.parse(answer);
		return this.took(taken.chatId, taken.chatState);
	}

	/** Hands one of this agent's chats to another agent, who must be online with room for it. */
	async transfer(chatId: string, toAgentId: string): Promise<void> {
		const chat = this.chatClients.get(chatId);
		// What the agent wrote goes first: out of the chat, its outbox could never send it.
		await chat?.flush();
		const ask = () =>
			this.call(
				`/chats/${chatId}/transfer`,
				jsonInit("POST", { toAgentId, ...chat?.offsets })
			);
		let answer = await ask();
		// The room lacks what this agent's copy holds (it lost the chat, or the agent sent on another
		// deployment): the copy rebuilds the room, and the transfer is asked again.
		for (let tries = 0; lostChat(answer) && chat && tries < 3; tries++) {
			await chat.poll();
			answer = await ask();
		}
		refuseLostChat(answer, `/chats/${chatId}/transfer`);
		ChatTakenSchema.parse(answer);
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
		if (this.presence.connected) void chat.connect();
		this.tell({ type: "assigned", chatId: chat.chatId, chat });
		return chat;
	}

	private released(chatId: string, reason: ReleaseReason): void {
		const chat = this.chatClients.get(chatId);
		// A stale claim is not kept for the next hello, nor for the next page load.
		if (reason === "stale")
			void this.options.store
				?.remove?.(storeKey(this.siteId, chatId))
				.catch(() => undefined);
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
			onEvent: (event: ChatEvent) => {
				this.tell({ type: "chat", chatId, event });
				// The room's word is final (SPEC §7): a chat it no longer lets this agent into is not kept, nor claimed again.
				if (event.type === "refused" && event.error.type === "not_in_chat")
					this.released(chatId, "stale");
			},
		};
	}

	private signedOut(message: string): void {
		this.disconnect();
		this.tell({ type: "error", error: { type: "unauthorized", message } });
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

	/** A listener that throws must not break the connection that noticed the event. */
	private tell(event: AgentEvent): void {
		try {
			this.onEvent(event);
		} catch (error) {
			console.error("AgentClient: onEvent threw", error);
		}
	}
}
