/**
 * LiveChatClient (SPEC §9): the local copy of one chat, its outbox, and the whole rebuild protocol.
 * On `code: 1` it uploads what the server lacks, then retries the original call; an outbox message
 * is removed only once the server holds it, and its id makes every retry idempotent.
 */
import { z } from "zod";
import { ChatLog, streamRank } from "../durable-objects/chat-model.ts";
import { fromBase64url } from "../src/security/encoding.ts";
import {
	AGENT_OFFSET_HEADER,
	AgentLoginResultSchema,
	MAX_REBUILD_MESSAGES,
	ReturnResultSchema,
	StartChatResultSchema,
	VISITOR_OFFSET_HEADER,
	type ChatMessage,
	type ChatStatus,
	type Offsets,
	type ReturnResult,
	type StartChat,
} from "../src/protocol/chat.ts";
import { SerialQueue } from "../durable-objects/serial-queue.ts";
import { MAX_FRAME_CHARS, type ServerFrame } from "../src/protocol/ws.ts";
import { FrameError, SocketClosed, SocketSession, openWebSocket, type OpenSocket, type Reply } from "./socket-session.ts";
import { MemoryStore, type ChatSnapshot, type ChatStore, type OutboxItem } from "./store.ts";
import { Transport, type TransportOptions } from "./transport.ts";

export class LiveChatError extends Error {
	constructor(
		readonly status: number,
		readonly type: string,
		message: string,
		/** The chat call that failed ("/messages", "/rebuild", …), when it was one. */
		readonly path?: string,
	) {
		super(message);
	}
}

/** A send the server refused for good (bad content, ended chat, not this chat): retrying cannot help. */
const refusedForGood = (error: unknown) =>
	error instanceof LiveChatError && error.path === "/messages" && [400, 403, 409, 413].includes(error.status);

export interface LiveChatClientOptions extends TransportOptions {
	siteId: string;
	chatId: string;
	token: string;
	chatState?: string;
	store?: ChatStore;
	/** How to open a WebSocket; the platform's by default. Without one, connect() long-polls. */
	openSocket?: OpenSocket;
	/** What happens in the chat while connected: new messages, typing, read receipts, the end. */
	onEvent?: (event: ChatEvent) => void;
}

export type ChatEvent =
	| { type: "messages"; messages: ChatMessage[] }
	| Extract<ServerFrame, { type: "typing" | "read" | "ended" }>;

/** Error frames carry a type; the HTTP status it stands for decides whether an outbox message is refused for good. */
const statusOfError: Record<string, number> = { invalid_request: 400, forbidden: 403, chat_ended: 409, payload_too_large: 413, rate_limited: 429 };

/** Enough rounds for a rebuild that another client completes between our attempts. */
const MAX_ROUNDS = 8;

export class LiveChatClient {
	readonly siteId: string;
	readonly chatId: string;
	readonly token: string;
	private chatState: string | undefined;
	private log = new ChatLog();
	private outbox: OutboxItem[] = [];
	private displaced: ChatMessage[] = [];
	private chatStatus: ChatStatus | undefined;
	private readonly transport: Transport;
	private readonly store: ChatStore;
	/** Sends and ends run one at a time; long-polls do not wait behind them. */
	private readonly writes = new SerialQueue();
	/** One rebuild at a time, shared: a long-poll and a send that both meet code 1 upload once. */
	private rebuilding: Promise<void> | undefined;
	private readonly openSocket: OpenSocket | undefined;
	private readonly onEvent: (event: ChatEvent) => void;
	private readonly me: { role: "visitor" | "agent"; id: string; name?: string };
	private session: SocketSession | undefined;
	private connected = false;

	constructor(options: LiveChatClientOptions) {
		this.siteId = options.siteId;
		this.chatId = options.chatId;
		this.token = options.token;
		this.chatState = options.chatState;
		this.transport = new Transport(options);
		this.store = options.store ?? new MemoryStore();
		this.openSocket = options.openSocket ?? (typeof WebSocket === "function" ? openWebSocket : undefined);
		this.onEvent = options.onEvent ?? (() => {});
		const claims = JSON.parse(new TextDecoder().decode(fromBase64url(options.token.split(".")[1] ?? ""))) as { sub: string; role: "visitor" | "agent"; name?: string };
		this.me = { role: claims.role, id: claims.sub, name: claims.name };
	}

	/**
	 * Stays in step with the chat until disconnect(): over the WebSocket when one opens, by long-poll
	 * rounds while it cannot, reconnecting with backoff. Resolves once the first connection is made.
	 */
	connect(): Promise<void> {
		if (this.connected) return Promise.resolve();
		this.connected = true;
		return new Promise((resolve) => void this.stayConnected(resolve));
	}

	disconnect(): void {
		this.connected = false;
		this.session?.close();
	}

	get realtime(): "websocket" | "long-poll" | "off" {
		return !this.connected ? "off" : this.session && !this.session.closed ? "websocket" : "long-poll";
	}

	/** Tells the others in the chat whether this side is typing (over the socket; dropped without one). */
	typing(on: boolean): void {
		this.session?.send({ type: "typing", on });
	}

	private async stayConnected(ready: () => void): Promise<void> {
		let failures = 0;
		while (this.connected) {
			const opened = this.openSocket ? await this.openSession() : undefined;
			if (opened) {
				failures = 0;
				ready();
				await opened.closed;
				continue;
			}
			failures++;
			ready();
			// No socket now: one long-poll round (shorter while a socket may come back), then try again.
			try {
				await this.poll(this.openSocket ? Math.min(25, 2 ** failures) : 25);
			} catch {
				await sleep(Math.min(10_000, 250 * 2 ** failures));
			}
		}
	}

	/** Opens the socket and says hello; `closed` settles when the socket closes. */
	private async openSession(): Promise<{ closed: Promise<void> } | undefined> {
		const url = `${this.transport.baseUrl.replace(/^http/, "ws")}/v1/sites/${this.siteId}/chats/${this.chatId}/ws`;
		let onClose!: () => void;
		const closed = new Promise<void>((resolve) => (onClose = resolve));
		try {
			const { session, reply } = await SocketSession.open(this.openSocket!, url, { token: this.token, ...this.offsets }, (f) => this.pushed(f), () => {
				this.session = undefined;
				onClose();
			});
			this.session = session;
			if (reply.type === "rebuild") await this.rebuild(reply);
			else if (reply.type === "sync") this.absorb(reply);
			await this.persist();
			void this.flush().catch(() => undefined);
			return { closed };
		} catch {
			this.session = undefined;
			return undefined;
		}
	}

	/** Frames the room sends unasked. */
	private pushed(frame: ServerFrame): void {
		switch (frame.type) {
			case "message":
				return this.absorbAndSave({ messages: [frame.message] });
			case "ack":
				return this.absorbAndSave({ messages: this.ownMessage(frame) });
			case "sync":
				return this.absorbAndSave(frame);
			case "state":
				this.chatState = frame.chatState;
				return;
			case "rebuild":
				void this.rebuild(frame).then(() => this.flush()).catch(() => undefined);
				return;
			case "ended":
				this.chatStatus = "ended";
				return this.onEvent(frame);
			case "typing":
			case "read":
				return this.onEvent(frame);
		}
	}

	/** For frames that arrive unasked: nobody else saves the copy after them. */
	private absorbAndSave(update: Parameters<LiveChatClient["absorb"]>[0]): void {
		if (this.absorb(update).length > 0) void this.persist();
	}

	/** Our message as the room accepted it: the ack says where and when, we know the rest. */
	private ownMessage(ack: Extract<ServerFrame, { type: "ack" }>): ChatMessage[] {
		const item = this.outbox.find((m) => m.id === ack.id);
		if (!item) return [];
		const message: ChatMessage = { id: ack.id, type: this.me.role === "visitor" ? 1 : 2, dataOffset: ack.dataOffset, content: item.content, sendTime: ack.sendTime, senderId: this.me.id, mac: ack.mac };
		if (this.me.name) message.senderName = this.me.name;
		return [message];
	}

	/** A send over the socket, under the same protocol as HTTP: rebuild when asked, then again. */
	private async sendOverSocket(session: SocketSession, item: OutboxItem): Promise<void> {
		for (let round = 0; round < MAX_ROUNDS; round++) {
			let reply: Reply;
			try {
				reply = await session.request({ type: "send", message: item, ...this.offsets });
			} catch (error) {
				throw error instanceof FrameError ? new LiveChatError(statusOfError[error.type] ?? 500, error.type, error.message, "/messages") : error;
			}
			if (reply.type === "ack") return void this.absorb({ messages: this.ownMessage(reply) });
			if (reply.type === "rebuild") await this.rebuild(reply);
			else this.absorb(reply);
		}
		throw new LiveChatError(503, "rebuild_incomplete", "the server is still behind after rebuilding");
	}

	/** Starts a chat as a visitor. */
	static async startChat(options: Omit<LiveChatClientOptions, "chatId" | "token" | "chatState"> & Partial<StartChat>): Promise<LiveChatClient> {
		const { siteId, visitor = {}, prechat, department, customVariables } = options;
		const transport = new Transport(options);
		const response = await transport.request(`/sites/${siteId}/chats`, jsonInit("POST", { visitor, prechat, department, customVariables }));
		const started = StartChatResultSchema.parse(await readOk(response));
		const client = new LiveChatClient({ ...options, chatId: started.chatId, token: started.token, chatState: started.chatState });
		await client.persist();
		return client;
	}

	/** Logs an agent in; the token then opens any chat of the site with `new LiveChatClient`. */
	static async agentLogin(options: TransportOptions & { siteId: string; email: string; password: string }) {
		const transport = new Transport(options);
		const response = await transport.request(`/sites/${options.siteId}/agent-sessions`, jsonInit("POST", { email: options.email, password: options.password }));
		return AgentLoginResultSchema.parse(await readOk(response));
	}

	/** A client from what the store kept (after a page reload), or undefined if it kept nothing. */
	static async resume(options: Omit<LiveChatClientOptions, "token" | "chatState"> & { store: ChatStore }): Promise<LiveChatClient | undefined> {
		const snapshot = await options.store.load(storeKey(options.siteId, options.chatId));
		if (!snapshot) return undefined;
		const client = new LiveChatClient({ ...options, token: snapshot.token, chatState: snapshot.chatState });
		client.log = new ChatLog(snapshot.messages);
		client.outbox = snapshot.outbox;
		client.displaced = snapshot.displaced;
		return client;
	}

	/** Every message of the local copy, in display order. */
	get messages(): ChatMessage[] {
		return this.log.all();
	}

	get offsets(): Offsets {
		return this.log.offsets;
	}

	get pending(): readonly OutboxItem[] {
		return this.outbox;
	}

	get status(): ChatStatus | undefined {
		return this.chatStatus;
	}

	get baseUrl(): string {
		return this.transport.baseUrl;
	}

	/** Queues a message and delivers it; resolves with the message as the server accepted it. */
	async send(content: string, id: string = crypto.randomUUID()): Promise<ChatMessage> {
		this.outbox.push({ id, content });
		await this.persist();
		await this.flush();
		const accepted = this.log.get(id);
		if (!accepted) throw new Error(`message ${id} is still in the outbox`);
		return accepted;
	}

	/** Delivers the outbox in order. A message the server refuses for good leaves it, with the error. */
	flush(): Promise<void> {
		return this.writes.run(async () => {
			while (this.outbox.length > 0) {
				const item = this.outbox[0]!;
				try {
					const session = this.session;
					if (session) await this.sendOverSocket(session, item).catch((error) => {
						if (!(error instanceof SocketClosed)) throw error;
						return this.chatCall(() => ({ path: "/messages", init: jsonInit("POST", item) })); // the socket went away: HTTP
					});
					else await this.chatCall(() => ({ path: "/messages", init: jsonInit("POST", item) }));
				} catch (error) {
					if (refusedForGood(error)) {
						this.outbox.shift();
						await this.persist();
					}
					throw error;
				}
				this.outbox.shift();
				await this.persist();
			}
		});
	}

	/** Fetches what is new; with `waitSeconds` the server holds the request until something is. */
	async poll(waitSeconds = 0): Promise<ChatMessage[]> {
		const query = waitSeconds > 0 ? `?wait=${waitSeconds}` : "";
		const { fresh } = await this.chatCall(() => ({ path: `/messages${query}`, init: { method: "GET" } }), waitSeconds * 1000);
		if (fresh.length > 0) await this.persist();
		return fresh;
	}

	async end(): Promise<void> {
		await this.writes.run(async () => {
			await this.chatCall(() => ({ path: "/end", init: { method: "POST" } }));
			await this.persist();
		});
	}

	/** Rates the chat (its visitor): `rating` 1 to 5. One event however often the request is retried. */
	async rate(rating: number, comment?: string): Promise<string> {
		return this.postEvent("/rating", { id: crypto.randomUUID(), rating, comment });
	}

	/** Wraps the chat up (an agent of it); it reaches chat.end when it comes before the end. */
	async wrapup(fields: { category?: string; comment?: string }): Promise<string> {
		return this.postEvent("/wrapup", { id: crypto.randomUUID(), ...fields });
	}

	/**
	 * An event endpoint (answered `202 {code: 0, id}`). A room that lost the chat answers code 1:
	 * rebuild it, then send the same body (same id, so the event counts once) again.
	 */
	private postEvent(path: string, body: Record<string, unknown>): Promise<string> {
		return this.writes.run(async () => {
			for (let round = 0; round < MAX_ROUNDS; round++) {
				const init = jsonInit("POST", body);
				const headers = new Headers(init.headers);
				headers.set("Authorization", `Bearer ${this.token}`);
				const response = await this.transport.request(`/sites/${this.siteId}/chats/${this.chatId}${path}`, { ...init, headers });
				const raw = await readOk(response, path);
				const taken = EventAnswerSchema.safeParse(raw);
				if (taken.success) return taken.data.id;
				await this.rebuild(ReturnResultSchema.parse(raw));
			}
			throw new LiveChatError(503, "rebuild_incomplete", "the server is still behind after rebuilding");
		});
	}

	/** Leaves a message for the site when no agent is online; the id makes a retried submit count once. */
	static async submitOfflineMessage(
		options: TransportOptions & { siteId: string },
		message: { email: string; message: string; name?: string; phone?: string; department?: string },
	): Promise<string> {
		const transport = new Transport(options);
		const response = await transport.request(`/sites/${options.siteId}/offline-messages`, jsonInit("POST", { id: crypto.randomUUID(), ...message }));
		return EventAnswerSchema.parse(await readOk(response)).id;
	}

	/**
	 * One chat call under the offset protocol: rebuild on code 1, then the same call again.
	 * Changes the local copy but does not save it: the caller saves once, with its own change.
	 */
	private async chatCall(request: () => { path: string; init: RequestInit }, waitMs = 0): Promise<{ result: ReturnResult; fresh: ChatMessage[] }> {
		const fresh: ChatMessage[] = [];
		for (let round = 0; round < MAX_ROUNDS; round++) {
			const { path, init } = request();
			const headers = new Headers(init.headers);
			headers.set(VISITOR_OFFSET_HEADER, String(this.offsets.visitorDataOffset));
			headers.set(AGENT_OFFSET_HEADER, String(this.offsets.agentDataOffset));
			const result = await this.call(path, { ...init, headers }, waitMs);
			if (result.code === 0) {
				fresh.push(...this.absorb(result));
				if (this.displaced.length > 0) await this.rebuild(this.offsets);
				return { result, fresh };
			}
			await this.rebuild(result);
		}
		throw new LiveChatError(503, "rebuild_incomplete", "the server is still behind after rebuilding");
	}

	private rebuild(server: Offsets): Promise<void> {
		this.rebuilding ??= this.upload(server).finally(() => {
			this.rebuilding = undefined;
		});
		return this.rebuilding;
	}

	/**
	 * Uploads every message above the server's offsets (all of them when it has nothing, −1/−1),
	 * plus any displaced by a split brain, in chunks of at most 500, each stream in order.
	 */
	private async upload(server: Offsets): Promise<void> {
		const since = { visitorDataOffset: Math.max(0, server.visitorDataOffset), agentDataOffset: Math.max(0, server.agentDataOffset) };
		const upload = [...this.log.above(since), ...this.displaced].sort(byStreamThenOffset);
		const session = this.session;
		if (session) {
			try {
				for (const chunk of chunks(upload, MAX_FRAME_CHARS * 0.9)) {
					const reply = await session.request({ type: "rebuild", chatState: this.chatState, ...this.offsets, messages: chunk });
					if (reply.type === "sync") this.absorb(reply);
				}
				return await this.persist();
			} catch (error) {
				if (error instanceof FrameError) throw new LiveChatError(statusOfError[error.type] ?? 500, error.type, error.message, "/rebuild");
				if (!(error instanceof SocketClosed)) throw error;
				// The socket went away mid-rebuild: the same upload over HTTP (every step of it is idempotent).
			}
		}
		for (const chunk of chunks(upload, Infinity)) {
			const body = { chatState: this.chatState, ...this.offsets, messages: chunk };
			this.absorb(await this.call("/rebuild", jsonInit("POST", body)));
		}
		await this.persist();
	}

	private async call(path: string, init: RequestInit, waitMs = 0): Promise<ReturnResult> {
		const headers = new Headers(init.headers);
		headers.set("Authorization", `Bearer ${this.token}`);
		const response = await this.transport.request(`/sites/${this.siteId}/chats/${this.chatId}${path}`, { ...init, headers }, waitMs);
		return ReturnResultSchema.parse(await readOk(response, path));
	}

	/**
	 * Merges the server's messages into the local copy (the server's placement wins), tells onEvent of
	 * the ones that are new here and returns them. A message of ours pushed out of its place stays
	 * displaced, to be uploaded again, until the server holds it. Saving is the caller's.
	 */
	private absorb(result: Pick<ReturnResult, "messages" | "chatState" | "status">): ChatMessage[] {
		const fresh: ChatMessage[] = [];
		for (const message of result.messages) {
			if (!this.log.get(message.id)) fresh.push(message);
			const pushedOut = this.log.place(message);
			if (pushedOut) this.displaced.push(pushedOut);
		}
		this.displaced = this.displaced.filter((m, i, all) => !this.log.get(m.id) && all.findIndex((d) => d.id === m.id) === i);
		if (result.chatState) this.chatState = result.chatState;
		if (result.status) this.chatStatus = result.status;
		if (fresh.length > 0) this.onEvent({ type: "messages", messages: fresh });
		return fresh;
	}

	private persist(): Promise<void> {
		const snapshot: ChatSnapshot = {
			siteId: this.siteId,
			chatId: this.chatId,
			token: this.token,
			chatState: this.chatState,
			messages: this.log.values(),
			outbox: this.outbox,
			displaced: this.displaced,
		};
		return this.store.save(storeKey(this.siteId, this.chatId), snapshot);
	}

}

/** What the event endpoints answer when they took the event. */
const EventAnswerSchema = z.object({ code: z.literal(0), id: z.string() });

const storeKey = (siteId: string, chatId: string) => `${siteId}/${chatId}`;

function jsonInit(method: string, body: unknown): RequestInit {
	return { method, headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) };
}

async function readOk(response: Response, path?: string): Promise<unknown> {
	const body = (await response.json().catch(() => undefined)) as { error?: { type?: string; message?: string } } | undefined;
	if (!response.ok) {
		throw new LiveChatError(response.status, body?.error?.type ?? "http_error", body?.error?.message ?? `HTTP ${response.status}`, path);
	}
	return body;
}

/** Rebuild chunks: at most 500 messages, and (over a socket) at most `maxChars` of JSON. */
function* chunks(messages: ChatMessage[], maxChars: number): Generator<ChatMessage[]> {
	let chunk: ChatMessage[] = [];
	let size = 0;
	for (const m of messages) {
		const length = JSON.stringify(m).length + 1;
		if (chunk.length === MAX_REBUILD_MESSAGES || (chunk.length > 0 && size + length > maxChars)) {
			yield chunk;
			chunk = [];
			size = 0;
		}
		chunk.push(m);
		size += length;
	}
	if (chunk.length > 0 || messages.length === 0) yield chunk;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Upload order: each stream from its lowest offset, so every chunk continues where the last one stopped. */
const byStreamThenOffset = (a: ChatMessage, b: ChatMessage) => streamRank(a) - streamRank(b) || a.dataOffset - b.dataOffset;
