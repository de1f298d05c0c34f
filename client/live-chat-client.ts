/**
 * LiveChatClient (SPEC §9): the local copy of one chat, its outbox, and the whole rebuild protocol.
 * On `code: 1` it uploads what the server lacks, then retries the original call; an outbox message
 * is removed only once the server holds it, and its id makes every retry idempotent.
 */
import { ChatLog, streamRank } from "../durable-objects/chat-model.ts";
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
}

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

	constructor(options: LiveChatClientOptions) {
		this.siteId = options.siteId;
		this.chatId = options.chatId;
		this.token = options.token;
		this.chatState = options.chatState;
		this.transport = new Transport(options);
		this.store = options.store ?? new MemoryStore();
	}

	/** Starts a chat as a visitor. */
	static async startChat(options: TransportOptions & { siteId: string; store?: ChatStore } & Partial<StartChat>): Promise<LiveChatClient> {
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
	static async resume(options: TransportOptions & { siteId: string; chatId: string; store: ChatStore }): Promise<LiveChatClient | undefined> {
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

	failBack(): void {
		this.transport.failBack();
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
					await this.chatCall(() => ({ path: "/messages", init: jsonInit("POST", item) }));
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
		let start = 0;
		do {
			const chunk = upload.slice(start, start + MAX_REBUILD_MESSAGES);
			const body = { chatState: this.chatState, ...this.offsets, messages: chunk };
			this.absorb(await this.call("/rebuild", jsonInit("POST", body)));
			start += MAX_REBUILD_MESSAGES;
		} while (start < upload.length);
		await this.persist();
	}

	private async call(path: string, init: RequestInit, waitMs = 0): Promise<ReturnResult> {
		const headers = new Headers(init.headers);
		headers.set("Authorization", `Bearer ${this.token}`);
		const response = await this.transport.request(`/sites/${this.siteId}/chats/${this.chatId}${path}`, { ...init, headers }, waitMs);
		return ReturnResultSchema.parse(await readOk(response, path));
	}

	/**
	 * Merges the server's messages into the local copy (the server's placement wins) and returns the
	 * ones that are new here. A message of ours pushed out of its place stays displaced, to be uploaded
	 * again, until the server holds it.
	 */
	private absorb(result: ReturnResult): ChatMessage[] {
		const fresh: ChatMessage[] = [];
		for (const message of result.messages) {
			if (!this.log.get(message.id)) fresh.push(message);
			const pushedOut = this.log.place(message);
			if (pushedOut) this.displaced.push(pushedOut);
		}
		this.displaced = this.displaced.filter((m, i, all) => !this.log.get(m.id) && all.findIndex((d) => d.id === m.id) === i);
		if (result.chatState) this.chatState = result.chatState;
		if (result.status) this.chatStatus = result.status;
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

/** Upload order: each stream from its lowest offset, so every chunk continues where the last one stopped. */
const byStreamThenOffset = (a: ChatMessage, b: ChatMessage) => streamRank(a) - streamRank(b) || a.dataOffset - b.dataOffset;
