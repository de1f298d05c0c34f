/**
 * LiveChatClient (SPEC §9): the local copy of one chat (chat-copy.ts), its outbox, and the whole
 * rebuild protocol (rebuild.ts). Every chat call carries the copy's offsets and its chains at them
 * (SPEC §3). On `code: 1` it uploads what the server lacks, then retries the original call. An outbox
 * message leaves the outbox only once the server holds it, and its id makes every retry idempotent.
 * It stays in step over the WebSocket, or by long-poll while none opens (realtime.ts).
 */
import { AcceptAnswerSchema } from "../src/protocol/wire.ts";
import { fromBase64url } from "../src/security/encoding.ts";
import { ChatCopy, storeKey } from "./chat-copy.ts";
import {
	agentLogin,
	ChatHttp,
	refuseLostChat,
	startChat,
	submitOfflineMessage,
} from "./http.ts";
import { Outbox } from "./outbox.ts";
import { Realtime } from "./realtime.ts";
import { Rebuilder } from "./rebuild.ts";
import { openWebSocket } from "./socket-session.ts";
import { MemoryStore } from "./store.ts";
import { Transport } from "./transport.ts";
import type {
	ChatMessage,
	ChatStatus,
	Offsets,
	StartChat,
} from "../src/protocol/chat.ts";
import type { ChatEvent, Me } from "./chat-copy.ts";
import type { OpenSocket } from "./socket-session.ts";
import type { ChatStore, OutboxItem } from "./store.ts";
import type { TransportOptions } from "./transport.ts";

// Runtime schemas from wire.ts only (zod/mini): the widget bundles this file, and classic zod is 60 KB gzipped.

export type { ChatEvent } from "./chat-copy.ts";
export { jsonInit, LiveChatError, readOk } from "./http.ts";

export interface LiveChatClientOptions extends TransportOptions {
	siteId: string;
	chatId: string;
	token: string;
	chatState?: string;
	store?: ChatStore;
	/** How to open a WebSocket; the platform's by default. Without one, connect() long-polls. */
	openSocket?: OpenSocket;
	/** What happens in the chat while connected (new messages, typing, read receipts, the end), and whether the copy is saved. */
	onEvent?: (event: ChatEvent) => void;
}

export class LiveChatClient {
	readonly siteId: string;
	readonly chatId: string;
	readonly token: string;
	private readonly transport: Transport;
	private readonly copy: ChatCopy;
	private readonly http: ChatHttp;
	private readonly rebuilder: Rebuilder;
	private readonly link: Realtime;
	private readonly outbox: Outbox;

	constructor(options: LiveChatClientOptions) {
		const { siteId, chatId, token } = options;
		this.siteId = siteId;
		this.chatId = chatId;
		this.token = token;
		this.transport = new Transport(options);
		const me = JSON.parse(
			new TextDecoder().decode(fromBase64url(token.split(".")[1] ?? ""))
		) as { sub: string; role: Me["role"]; name?: string };
		this.copy = new ChatCopy(
			{ siteId, chatId, token },
			{ role: me.role, id: me.sub, name: me.name },
			options.store ?? new MemoryStore(),
			options.onEvent ?? (() => {})
		);
		this.copy.chatState = options.chatState;
		this.http = new ChatHttp(this.transport, { siteId, chatId, token }, (url) =>
			this.rebuilder.notedServer(url)
		);
		this.rebuilder = new Rebuilder(
			this.copy,
			this.http,
			() => this.link.session
		);
		this.link = new Realtime(
			this.copy,
			this.rebuilder,
			this.http,
			`/v1/sites/${siteId}/chats/${chatId}`,
			options.openSocket ??
				(typeof WebSocket === "function" ? openWebSocket : undefined),
			this
		);
		this.outbox = new Outbox(this.copy, this.rebuilder, () => this.link);
	}

	/** The sealed chatState the copy holds: what a rebuild uploads (SPEC §3). */
	get chatState(): string | undefined {
		return this.copy.chatState;
	}

	/**
	 * Stays in step with the chat until disconnect(): over the WebSocket when one opens, by long-poll
	 * rounds while it cannot, reconnecting with backoff. Resolves once the first connection is made.
	 */
	connect(): Promise<void> {
		return this.link.connect();
	}

	disconnect(): void {
		this.link.disconnect();
	}

	get realtime(): "websocket" | "long-poll" | "off" {
		return this.link.state;
	}

	/** Tells the others in the chat whether this side is typing (over the socket; dropped without one). */
	typing(on: boolean): void {
		this.link.session?.send({ type: "typing", on });
	}

	/** Tells the others in the chat that this side has seen everything it holds (a read receipt; over the socket, dropped without one). */
	markRead(): void {
		this.link.session?.send({ type: "read", ...this.copy.log.offsets });
	}

	/**
	 * Starts a chat as a visitor, with the visitor's sealed state (given, or kept by the store from its
	 * last chat) so that the chat keeps its visitorId and goes to its last agent (SPEC §4, §7).
	 */
	static async startChat(
		options: Omit<LiveChatClientOptions, "chatId" | "token" | "chatState"> &
			Partial<StartChat>
	): Promise<LiveChatClient> {
		const started = await startChat(options);
		const client = new LiveChatClient({
			...options,
			chatId: started.chatId,
			token: started.token,
			chatState: started.chatState,
		});
		client.copy.status = started.status;
		client.copy.queuePosition = started.queuePosition;
		client.copy.keepVisitorState(started.visitorState);
		await client.copy.persist();
		return client;
	}

	/** Logs an agent in; the token then opens any chat of the site with `new LiveChatClient`. */
	static agentLogin = agentLogin;

	/** Leaves a message for the site when no agent is online; the id makes a retried submit count once. */
	static submitOfflineMessage = submitOfflineMessage;

	/** A client from what the store kept (after a page reload), or undefined if it kept nothing. */
	static async resume(
		options: Omit<LiveChatClientOptions, "token" | "chatState"> & {
			store: ChatStore;
			token?: string;
		}
	): Promise<LiveChatClient | undefined> {
		const snapshot = await options.store.load(
			storeKey(options.siteId, options.chatId)
		);
		if (!snapshot) return undefined;
		// A token given wins over the kept one: an agent that logged in again since.
		const client = new LiveChatClient({
			...options,
			token: options.token ?? snapshot.token,
			chatState: snapshot.chatState,
		});
		client.copy.restore(snapshot);
		return client;
	}

	/** Every message of the local copy, in display order. */
	get messages(): ChatMessage[] {
		return this.copy.log.all();
	}

	get offsets(): Offsets {
		return this.copy.log.offsets;
	}

	get pending(): readonly OutboxItem[] {
		return this.copy.outbox;
	}

	get status(): ChatStatus | undefined {
		return this.copy.status;
	}

	/** While the chat waits: its place in the site's queue, 1 = next. */
	get queuePosition(): number | undefined {
		return this.copy.queuePosition;
	}

	/** The visitor's sealed state as last handed out: what its next chat starts with. */
	get visitorState(): string | undefined {
		return this.copy.visitorState;
	}

	/** Whether the store holds the copy as of the last save; false after a failed one, until a later save succeeds. */
	get saved(): boolean {
		return this.copy.saved;
	}

	get baseUrl(): string {
		return this.transport.baseUrl;
	}

	/**
	 * Queues a message and delivers it; resolves with the message as the server accepted it. A store
	 * that cannot save does not stop it: the outbox is kept in memory meanwhile.
	 */
	send(
		content: string,
		id: string = crypto.randomUUID(),
		canned?: string
	): Promise<ChatMessage> {
		return this.outbox.send(content, id, canned);
	}

	/** Delivers the outbox in order. A message the server refuses for good leaves it, with the error. */
	flush(): Promise<void> {
		return this.outbox.flush();
	}

	/** Fetches what is new; with `waitSeconds` the server holds the request until something is. */
	async poll(waitSeconds = 0): Promise<ChatMessage[]> {
		const query = waitSeconds > 0 ? `?wait=${waitSeconds}` : "";
		const { result, fresh } = await this.rebuilder.call(
			() => ({ path: `/messages${query}`, init: { method: "GET" } }),
			waitSeconds * 1000
		);
		// A copy the store failed to save is tried again here too: polls are the heartbeat.
		if (result.messages.length > 0 || result.chatState || !this.copy.saved)
			await this.copy.persist();
		return fresh;
	}

	async end(): Promise<void> {
		await this.outbox.writes.run(async () => {
			await this.rebuilder.call(() => ({
				path: "/end",
				init: { method: "POST" },
			}));
			await this.copy.persist();
		});
	}

	/**
	 * Takes a waiting chat (an agent). The chat state it answers lists this agent: it is kept, as the
	 * agent's rebuild of the chat needs it. `409 conflict` when the chat no longer waits; a room that
	 * lost the chat is `503 chat_unavailable`, as only the visitor's copy can bring a waiting chat back.
	 */
	accept(): Promise<void> {
		return this.outbox.writes.run(async () => {
			const answer = await this.http.request(
				"/accept",
				{ method: "POST" },
				await this.copy.position()
			);
			refuseLostChat(answer);
			const accepted = AcceptAnswerSchema.parse(answer);
			this.copy.chatState = accepted.chatState;
			this.copy.noteStatus(accepted.status);
			await this.copy.persist();
		});
	}

	/** Rates the chat (its visitor): `rating` 1 to 5. One event however often the request is retried. */
	async rate(rating: number, comment?: string): Promise<string> {
		return this.postEvent("/rating", {
			id: crypto.randomUUID(),
			rating,
			comment,
		});
	}

	/** Wraps the chat up (an agent of it); it reaches chat.end when it comes before the end. */
	async wrapup(fields: {
		category?: string;
		comment?: string;
	}): Promise<string> {
		return this.postEvent("/wrapup", { id: crypto.randomUUID(), ...fields });
	}

	/** One event at a time with the sends (rating, wrap-up), under the offset protocol. */
	private postEvent(
		path: string,
		body: Record<string, unknown>
	): Promise<string> {
		return this.outbox.writes.run(() => this.rebuilder.event(path, body));
	}
}
