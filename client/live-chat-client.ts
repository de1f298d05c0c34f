/**
 * LiveChatClient (SPEC §9): the local copy of one chat, its outbox, and the whole rebuild protocol.
 * Every chat call carries the copy's offsets and its chains at them (SPEC §3). On `code: 1` it uploads
 * what the server lacks (a whole stream when the histories diverged, after which it takes the room's
 * numbering of that stream), then retries the original call. An outbox message leaves the outbox
 * only once the server holds it, and its id makes every retry idempotent.
 */
import { ChatLog, streamRank } from "../durable-objects/chat-model.ts";
import { SerialQueue } from "../durable-objects/serial-queue.ts";
import {
	AcceptAnswerSchema,
	AGENT_CHAIN_HEADER,
	AGENT_OFFSET_HEADER,
	AgentLoginResultSchema,
	EventAnswerSchema,
	MAX_FRAME_CHARS,
	MAX_REBUILD_MESSAGES,
	ReturnResultSchema,
	StartChatResultSchema,
	VISITOR_CHAIN_HEADER,
	VISITOR_OFFSET_HEADER,
} from "../src/protocol/wire.ts";
import { fromBase64url } from "../src/security/encoding.ts";
import {
	FrameError,
	openWebSocket,
	SocketClosed,
	SocketSession,
} from "./socket-session.ts";
import { MemoryStore } from "./store.ts";
import { Transport, Unreachable } from "./transport.ts";
import type { Chains } from "../durable-objects/chat-chain.ts";
import type { Stream } from "../durable-objects/chat-model.ts";
import type {
	ChatMessage,
	ChatStatus,
	Offsets,
	ReturnResult,
	StartChat,
} from "../src/protocol/chat.ts";
import type { ServerFrame } from "../src/protocol/wire.ts";
import type { OpenSocket, Reply } from "./socket-session.ts";
import type { ChatSnapshot, ChatStore, OutboxItem } from "./store.ts";
import type { TransportOptions } from "./transport.ts";

// Runtime schemas from wire.ts only (zod/mini): the widget bundles this file, and classic zod is 60 KB gzipped.

export class LiveChatError extends Error {
	constructor(
		readonly status: number,
		readonly type: string,
		message: string,
		/** The chat call that failed ("/messages", "/rebuild", …), when it was one. */
		readonly path?: string,
		/** Seconds until the same call may succeed (429's Retry-After, or the error frame's), when the server said. */
		readonly retryAfter?: number
	) {
		super(message);
	}
}

/** A send the server refused for good (bad content, ended chat, not this chat): retrying cannot help. */
const refusedForGood = (error: unknown) =>
	error instanceof LiveChatError &&
	error.path === "/messages" &&
	[400, 403, 409, 413].includes(error.status);

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

export type ChatEvent =
	| { type: "messages"; messages: ChatMessage[] }
	/** The chat's status or its place in the queue (while it waits, 1 = next) changed. */
	| { type: "status"; status: ChatStatus; queuePosition?: number }
	/** A visitor's refreshed sealed state (its last agent, for sticky routing): kept in the store for its next chat. */
	| { type: "visitorState"; visitorState: string }
	| Extract<ServerFrame, { type: "typing" | "read" | "ended" }>
	/** The store failed to save the copy (`saved: false`, kept in memory and tried again on the next change), or saved it again. */
	| { type: "storage"; saved: boolean; error?: unknown };

/** Error frames carry a type; the HTTP status it stands for decides whether an outbox message is refused for good. */
const statusOfError: Record<string, number> = {
	invalid_request: 400,
	forbidden: 403,
	not_in_chat: 403,
	invalid_mac: 403,
	invalid_chat_state: 403,
	chat_ended: 409,
	conflict: 409,
	payload_too_large: 413,
	rate_limited: 429,
};

/** Enough rounds for a rebuild that another client completes between our attempts. */
const MAX_ROUNDS = 8;

/** Where a copy stands, as every chat call carries it: its offsets and its chain at each (none at 0). */
type Position = Offsets & Chains;

/** What a room answering code 1 asks for: its offsets (−1/−1: it has nothing) and the streams whose history differs from ours. */
type RebuildRequest = Offsets & { diverged?: Stream[] };

/** One try of a chat call: done, or not yet (after the rebuild the room asked for, if it asked for one). */
type Attempt<T> = { done: T } | { rebuild?: RebuildRequest };

export class LiveChatClient {
	readonly siteId: string;
	readonly chatId: string;
	readonly token: string;
	private chatState: string | undefined;
	private log = new ChatLog();
	private outbox: OutboxItem[] = [];
	private displaced: ChatMessage[] = [];
	private chatStatus: ChatStatus | undefined;
	private waitingPosition: number | undefined;
	private sealedVisitor: string | undefined;
	private readonly transport: Transport;
	private readonly store: ChatStore;
	/** Sends and ends run one at a time; long-polls do not wait behind them. */
	private readonly writes = new SerialQueue();
	/** One rebuild at a time, shared: a long-poll and a send that both meet code 1 upload once. */
	private rebuilding: Promise<void> | undefined;
	/** The deployment whose versions this copy holds, and whether it must read the chat again from another (notedServer). */
	private servedBy: string | undefined;
	private rereadOwed = false;
	/** One save at a time, the newest copy last; a change made during a save is saved right after it. */
	private saving: Promise<void> | undefined;
	private unsaved = false;
	private saveFailed = false;
	private readonly openSocket: OpenSocket | undefined;
	private readonly onEvent: (event: ChatEvent) => void;
	private readonly me: { role: "visitor" | "agent"; id: string; name?: string };
	private session: SocketSession | undefined;
	private connected = false;
	/** Counts connect() and disconnect() calls: a connection loop or a socket of an earlier one stops. */
	private connection = 0;

	constructor(options: LiveChatClientOptions) {
		this.siteId = options.siteId;
		this.chatId = options.chatId;
		this.token = options.token;
		this.chatState = options.chatState;
		this.transport = new Transport(options);
		this.store = options.store ?? new MemoryStore();
		this.openSocket =
			options.openSocket ??
			(typeof WebSocket === "function" ? openWebSocket : undefined);
		this.onEvent = options.onEvent ?? (() => {});
		const claims = JSON.parse(
			new TextDecoder().decode(fromBase64url(options.token.split(".")[1] ?? ""))
		) as { sub: string; role: "visitor" | "agent"; name?: string };
		this.me = { role: claims.role, id: claims.sub, name: claims.name };
	}

	/**
	 * Stays in step with the chat until disconnect(): over the WebSocket when one opens, by long-poll
	 * rounds while it cannot, reconnecting with backoff. Resolves once the first connection is made.
	 * At most one socket is open at a time.
	 */
	connect(): Promise<void> {
		if (this.connected) return Promise.resolve();
		this.connected = true;
		const connection = ++this.connection;
		return new Promise(
			(resolve) => void this.stayConnected(connection, resolve)
		);
	}

	disconnect(): void {
		this.connected = false;
		this.connection++;
		this.session?.close();
		this.session = undefined;
	}

	get realtime(): "websocket" | "long-poll" | "off" {
		return !this.connected
			? "off"
			: this.session && !this.session.closed
				? "websocket"
				: "long-poll";
	}

	/** Tells the others in the chat whether this side is typing (over the socket; dropped without one). */
	typing(on: boolean): void {
		this.session?.send({ type: "typing", on });
	}

	/** Tells the others in the chat that this side has seen everything it holds (a read receipt; over the socket, dropped without one). */
	markRead(): void {
		this.session?.send({ type: "read", ...this.log.offsets });
	}

	private live(connection: number): boolean {
		return this.connected && connection === this.connection;
	}

	private async stayConnected(
		connection: number,
		ready: () => void
	): Promise<void> {
		let failures = 0;
		while (this.live(connection)) {
			const opened = this.openSocket
				? await this.openSession(connection)
				: undefined;
			if (opened) {
				failures = 0;
				ready();
				await opened.closed;
				continue;
			}
			if (!this.live(connection)) break;
			failures++;
			ready();
			// No socket now: one long-poll round (shorter while a socket may come back), then try again.
			try {
				await this.poll(this.openSocket ? Math.min(25, 2 ** failures) : 25);
				if (this.outbox.length > 0) await this.flush();
			} catch {
				await sleep(Math.min(10_000, 250 * 2 ** failures));
			}
		}
		ready();
	}

	/**
	 * Opens the socket and says hello; `closed` settles when the socket closes. A socket that fails
	 * on the way, or that opens after disconnect(), is closed at once.
	 */
	private async openSession(
		connection: number
	): Promise<{ closed: Promise<void> } | undefined> {
		const baseUrl = this.transport.baseUrl;
		const url = `${baseUrl.replace(/^http/, "ws")}/v1/sites/${this.siteId}/chats/${this.chatId}/ws`;
		let onClose!: () => void;
		const closed = new Promise<void>((resolve) => (onClose = resolve));
		let session: SocketSession | undefined;
		try {
			// What the socket pushes is that deployment's version: after a move it calls for a re-read like any answer.
			const fromSocket = (f: ServerFrame) => {
				if (f.type === "message" || f.type === "sync")
					this.notedServer(baseUrl);
				this.pushed(f);
			};
			session = await SocketSession.open(
				this.openSocket!,
				url,
				fromSocket,
				() => {
					if (this.session === session) this.session = undefined;
					onClose();
				}
			);
			if (!this.live(connection)) throw new SocketClosed("disconnected");
			const reply = await session.hello({
				token: this.token,
				...(await this.position()),
			});
			if (!this.live(connection)) throw new SocketClosed("disconnected");
			this.session = session;
			this.notedServer(baseUrl);
			if (reply.type === "sync") this.absorb(reply);
			const rebuild = rebuildRequestOf(reply);
			if (rebuild) await this.rebuild(rebuild);
			else if (this.rereadOwed) await this.rereadAll();
			if (session.closed) throw new SocketClosed("socket closed");
			void this.persist();
			void this.flush().catch(() => undefined);
			return { closed };
		} catch {
			session?.close();
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
				return this.absorbAndSave({ ...frame, messages: [] });
			case "rebuild":
				void this.rebuild(frame)
					.then(() => this.flush())
					.catch(() => undefined);
				return;
			case "ended":
				this.noteStatus("ended");
				void this.persist();
				return this.tell(frame);
			case "typing":
			case "read":
				return this.tell(frame);
		}
	}

	/** For frames that arrive unasked: nobody else saves the copy after them. */
	private absorbAndSave(update: Parameters<LiveChatClient["absorb"]>[0]): void {
		this.absorb(update);
		if (update.messages.length > 0 || update.chatState || update.status)
			void this.persist();
	}

	/** Our message as the room accepted it: the ack says where and when, we know the rest. */
	private ownMessage(
		ack: Extract<ServerFrame, { type: "ack" }>
	): ChatMessage[] {
		const item = this.outbox.find((m) => m.id === ack.id);
		if (!item) return [];
		const message: ChatMessage = {
			id: ack.id,
			type: this.me.role === "visitor" ? 1 : 2,
			dataOffset: ack.dataOffset,
			content: item.content,
			sendTime: ack.sendTime,
			senderId: this.me.id,
			mac: ack.mac,
		};
		if (this.me.name) message.senderName = this.me.name;
		return [message];
	}

	/** A send over the socket, under the same protocol as HTTP: rebuild when asked, then again. */
	private sendOverSocket(
		session: SocketSession,
		item: OutboxItem
	): Promise<void> {
		return this.afterRebuilds<void>(async () => {
			const position = await this.position();
			const reply = await session
				.request({ type: "send", message: item, ...position })
				.catch((error) => Promise.reject(asChatError(error, "/messages")));
			if (reply.type === "ack") {
				this.absorb({ messages: this.ownMessage(reply) });
				return { done: undefined };
			}
			if (reply.type === "sync") this.absorb(reply);
			return { rebuild: rebuildRequestOf(reply) };
		});
	}

	/**
	 * Starts a chat as a visitor, with the visitor's sealed state (given, or kept by the store from its
	 * last chat) so that the chat keeps its visitorId and goes to its last agent (SPEC §4, §7).
	 */
	static async startChat(
		options: Omit<LiveChatClientOptions, "chatId" | "token" | "chatState"> &
			Partial<StartChat>
	): Promise<LiveChatClient> {
		const {
			siteId,
			visitor = {},
			prechat,
			department,
			customVariables,
		} = options;
		const transport = new Transport(options);
		const visitorState =
			options.visitorState ??
			(await options.store
				?.loadValue?.(visitorStateKey(siteId))
				.catch(() => undefined));
		const start = (visitorState?: string) =>
			transport.request(
				`/sites/${siteId}/chats`,
				jsonInit("POST", {
					visitor,
					prechat,
					department,
					customVariables,
					visitorState,
				})
			);
		let answer = await readOk(await start(visitorState)).catch(
			(error: unknown) => {
				// A state that no longer opens (keys rotated out, another site's) must not keep the visitor from chatting.
				if (
					visitorState &&
					error instanceof LiveChatError &&
					error.type === "invalid_visitor_state"
				)
					return undefined;
				throw error;
			}
		);
		answer ??= await readOk(await start());
		const started = StartChatResultSchema.parse(answer);
		const client = new LiveChatClient({
			...options,
			chatId: started.chatId,
			token: started.token,
			chatState: started.chatState,
		});
		client.chatStatus = started.status;
		client.waitingPosition = started.queuePosition;
		client.keepVisitorState(started.visitorState);
		await client.persist();
		return client;
	}

	/** Logs an agent in; the token then opens any chat of the site with `new LiveChatClient`. */
	static async agentLogin(
		options: TransportOptions & {
			siteId: string;
			email: string;
			password: string;
		}
	) {
		const transport = new Transport(options);
		const response = await transport.request(
			`/sites/${options.siteId}/agent-sessions`,
			jsonInit("POST", { email: options.email, password: options.password })
		);
		return AgentLoginResultSchema.parse(await readOk(response));
	}

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
		client.log = new ChatLog(snapshot.messages);
		client.outbox = snapshot.outbox;
		client.displaced = snapshot.displaced;
		client.chatStatus = snapshot.status;
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

	/** While the chat waits: its place in the site's queue, 1 = next. */
	get queuePosition(): number | undefined {
		return this.waitingPosition;
	}

	/** The visitor's sealed state as last handed out: what its next chat starts with. */
	get visitorState(): string | undefined {
		return this.sealedVisitor;
	}

	/** Whether the store holds the copy as of the last save; false after a failed one, until a later save succeeds. */
	get saved(): boolean {
		return !this.saveFailed;
	}

	get baseUrl(): string {
		return this.transport.baseUrl;
	}

	/**
	 * Queues a message and delivers it; resolves with the message as the server accepted it. A store
	 * that cannot save does not stop it: the outbox is kept in memory meanwhile.
	 */
	async send(
		content: string,
		id: string = crypto.randomUUID(),
		canned?: string
	): Promise<ChatMessage> {
		if (!this.log.get(id) && !this.outbox.some((m) => m.id === id))
			this.outbox.push(canned ? { id, content, canned } : { id, content });
		await this.persist();
		try {
			await this.flush();
		} catch (error) {
			// Another message of the outbox may have failed after this one went through.
			const accepted = this.log.get(id);
			if (accepted) return accepted;
			throw error;
		}
		const accepted = this.log.get(id);
		if (!accepted) throw new Error(`message ${id} is still in the outbox`);
		return accepted;
	}

	/** Delivers the outbox in order. A message the server refuses for good leaves it, with the error. */
	flush(): Promise<void> {
		return this.writes.run(async () => {
			for (let item = this.outbox[0]; item; item = this.outbox[0]) {
				try {
					await this.deliver(item);
				} catch (error) {
					if (refusedForGood(error)) {
						this.leaveOutbox(item.id);
						await this.persist();
					}
					throw error;
				}
				this.leaveOutbox(item.id);
				await this.persist();
			}
		});
	}

	private async deliver(item: OutboxItem): Promise<void> {
		const overHttp = () =>
			this.chatCall(() => ({
				path: "/messages",
				init: jsonInit("POST", item),
			}));
		const session = this.session;
		if (!session) return void (await overHttp());
		await this.sendOverSocket(session, item).catch((error) => {
			if (!(error instanceof SocketClosed)) throw error;
			return overHttp(); // the socket went away: HTTP
		});
	}

	private leaveOutbox(id: string): void {
		this.outbox = this.outbox.filter((m) => m.id !== id);
	}

	/** Fetches what is new; with `waitSeconds` the server holds the request until something is. */
	async poll(waitSeconds = 0): Promise<ChatMessage[]> {
		const query = waitSeconds > 0 ? `?wait=${waitSeconds}` : "";
		const { result, fresh } = await this.chatCall(
			() => ({ path: `/messages${query}`, init: { method: "GET" } }),
			waitSeconds * 1000
		);
		// A copy the store failed to save is tried again here too: polls are the heartbeat.
		if (result.messages.length > 0 || result.chatState || this.saveFailed)
			await this.persist();
		return fresh;
	}

	async end(): Promise<void> {
		await this.writes.run(async () => {
			await this.chatCall(() => ({ path: "/end", init: { method: "POST" } }));
			await this.persist();
		});
	}

	/**
	 * Takes a waiting chat (an agent). The chat state it answers lists this agent: it is kept, as the
	 * agent's rebuild of the chat needs it. `409 conflict` when the chat no longer waits; a room that
	 * lost the chat is `503 chat_unavailable`, as only the visitor's copy can bring a waiting chat back.
	 */
	accept(): Promise<void> {
		return this.writes.run(async () => {
			const answer = await this.request(
				"/accept",
				{ method: "POST" },
				await this.position()
			);
			if (ReturnResultSchema.safeParse(answer).data?.code === 1) {
				throw new LiveChatError(
					503,
					"chat_unavailable",
					"the server lost this chat; it is back once the visitor's client rebuilds it",
					"/accept"
				);
			}
			const accepted = AcceptAnswerSchema.parse(answer);
			this.chatState = accepted.chatState;
			this.noteStatus(accepted.status);
			await this.persist();
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

	/**
	 * An event endpoint (answered `202 {code: 0, id}`). A room that lost the chat answers code 1:
	 * rebuild it, then send the same body (same id, so the event counts once) again.
	 */
	private postEvent(
		path: string,
		body: Record<string, unknown>
	): Promise<string> {
		return this.writes.run(() =>
			this.afterRebuilds<string>(async () => {
				const answer = await this.request(
					path,
					jsonInit("POST", body),
					await this.position()
				);
				const taken = EventAnswerSchema.safeParse(answer);
				if (taken.success) return { done: taken.data.id };
				return { rebuild: rebuildRequestOf(ReturnResultSchema.parse(answer)) };
			})
		);
	}

	/** Leaves a message for the site when no agent is online; the id makes a retried submit count once. */
	static async submitOfflineMessage(
		options: TransportOptions & { siteId: string },
		message: {
			email: string;
			message: string;
			name?: string;
			phone?: string;
			department?: string;
		}
	): Promise<string> {
		const transport = new Transport(options);
		const response = await transport.request(
			`/sites/${options.siteId}/offline-messages`,
			jsonInit("POST", { id: crypto.randomUUID(), ...message })
		);
		return EventAnswerSchema.parse(await readOk(response)).id;
	}

	/**
	 * One chat call under the offset protocol: rebuild on code 1, then the same call again.
	 * Changes the local copy but does not save it: the caller saves once, with its own change.
	 */
	private async chatCall(
		request: () => { path: string; init: RequestInit },
		waitMs = 0
	): Promise<{ result: ReturnResult; fresh: ChatMessage[] }> {
		const fresh: ChatMessage[] = [];
		const result = await this.afterRebuilds<ReturnResult>(async () => {
			const { path, init } = request();
			const result = ReturnResultSchema.parse(
				await this.request(path, init, await this.position(), waitMs)
			);
			if (result.code !== 0) return { rebuild: rebuildRequestOf(result) };
			fresh.push(...this.absorb(result));
			return { done: result };
		});
		if (this.rereadOwed) fresh.push(...(await this.rereadAll()));
		if (this.displaced.length > 0) await this.rebuild(this.offsets);
		return { result, fresh };
	}

	/** The one "rebuild, then try again" loop of every chat call, over HTTP or the socket. */
	private async afterRebuilds<T>(
		attempt: () => Promise<Attempt<T>>
	): Promise<T> {
		for (let round = 0; round < MAX_ROUNDS; round++) {
			const outcome = await attempt();
			if ("done" in outcome) return outcome.done;
			if (outcome.rebuild) await this.rebuild(outcome.rebuild);
		}
		throw new LiveChatError(
			503,
			"rebuild_incomplete",
			"the server is still behind after rebuilding"
		);
	}

	/**
	 * This copy's offsets and its chains at them, taken together: a message that moves while a chain
	 * is computed (a socket push) makes it start again.
	 */
	private async position(): Promise<Position> {
		for (;;) {
			const offsets = this.log.offsets;
			const chains = await this.log
				.chainsAtOffsets()
				.catch((error: unknown) => {
					if (sameOffsets(offsets, this.log.offsets)) throw error;
					return undefined;
				});
			if (chains && sameOffsets(offsets, this.log.offsets))
				return { ...offsets, ...chains };
		}
	}

	private rebuild(request: RebuildRequest): Promise<void> {
		this.rebuilding ??= this.repair(request).finally(() => {
			this.rebuilding = undefined;
		});
		return this.rebuilding;
	}

	/**
	 * Gives the server what it lacks: every message above its offsets (all of them when it has
	 * nothing, −1/−1), the whole of a stream whose history diverged from ours, and any displaced by a
	 * split brain. Then reads each diverged stream from offset 0 and takes the room's numbering of
	 * it, so that both copies end up identical (SPEC §3).
	 */
	private async repair(request: RebuildRequest): Promise<void> {
		const diverged = new Set(request.diverged ?? []);
		const lacks = (stream: Stream, offset: number) =>
			diverged.has(stream) ? 0 : Math.max(0, offset);
		const since = {
			visitorDataOffset: lacks("visitor", request.visitorDataOffset),
			agentDataOffset: lacks("agent", request.agentDataOffset),
		};
		await this.upload(
			[...this.log.above(since), ...this.displaced].sort(byStreamThenOffset)
		);
		if (diverged.size > 0) await this.readFromStart(diverged);
		await this.persist();
	}

	/**
	 * In chunks of at most 500 (over a socket, of at most a frame), each stream in order. The answers
	 * may still say `diverged`: that holds until readFromStart, so it is not acted on here.
	 */
	private async upload(messages: ChatMessage[]): Promise<void> {
		const session = this.session;
		if (session) {
			try {
				for (const chunk of chunks(messages, MAX_FRAME_CHARS * 0.9)) {
					const reply = await session.request({
						type: "rebuild",
						chatState: this.chatState,
						...(await this.position()),
						messages: chunk,
					});
					if (reply.type === "sync") this.absorb(reply);
				}
				return;
			} catch (error) {
				if (!(error instanceof SocketClosed))
					throw asChatError(error, "/rebuild");
				// The socket went away mid-rebuild: the same upload over HTTP (every step of it is idempotent).
			}
		}
		for (const chunk of chunks(messages, Infinity)) {
			const position = await this.position();
			this.absorb(
				ReturnResultSchema.parse(
					await this.request(
						"/rebuild",
						jsonInit("POST", {
							chatState: this.chatState,
							...position,
							messages: chunk,
						}),
						position
					)
				)
			);
		}
	}

	/** A poll that has each diverged stream from offset 0 (no chain for it); the room's placement of every message wins. */
	private async readFromStart(diverged: Set<Stream>): Promise<void> {
		const position = await this.position();
		const read: Position = {
			visitorDataOffset: diverged.has("visitor")
				? 0
				: position.visitorDataOffset,
			agentDataOffset: diverged.has("agent") ? 0 : position.agentDataOffset,
		};
		if (!diverged.has("visitor") && position.visitorChain)
			read.visitorChain = position.visitorChain;
		if (!diverged.has("agent") && position.agentChain)
			read.agentChain = position.agentChain;
		const result = ReturnResultSchema.parse(
			await this.request("/messages", { method: "GET" }, read)
		);
		// Code 1 here means the room wants more (the other stream): the retried call that follows finds it.
		if (result.code === 0) this.absorb(result);
	}

	/**
	 * Two deployments can each accept one message (a send whose answer was lost, retried on the other)
	 * at different times: same id, same place, so the chains agree, but another sendTime and mac. So
	 * after this client moves to another deployment, it reads the whole chat there once and takes that
	 * deployment's versions, as every client that moves does: the copies end up identical.
	 */
	private notedServer(baseUrl: string): void {
		if (this.servedBy !== undefined && this.servedBy !== baseUrl)
			this.rereadOwed = true;
		this.servedBy = baseUrl;
	}

	private async rereadAll(): Promise<ChatMessage[]> {
		this.rereadOwed = false;
		const result = ReturnResultSchema.parse(
			await this.request(
				"/messages",
				{ method: "GET" },
				{ visitorDataOffset: 0, agentDataOffset: 0 }
			)
		);
		if (result.code !== 0) {
			this.rereadOwed = true; // the room wants a rebuild first: the next call makes it, then reads again
			return [];
		}
		return this.absorb(result);
	}

	/** A chat call over HTTP, the token and the caller's position in its headers; the JSON of a 2xx answer. */
	private async request(
		path: string,
		init: RequestInit,
		position: Position,
		waitMs = 0
	): Promise<unknown> {
		const headers = new Headers(init.headers);
		headers.set("Authorization", `Bearer ${this.token}`);
		headers.set(VISITOR_OFFSET_HEADER, String(position.visitorDataOffset));
		headers.set(AGENT_OFFSET_HEADER, String(position.agentDataOffset));
		if (position.visitorChain)
			headers.set(VISITOR_CHAIN_HEADER, position.visitorChain);
		if (position.agentChain)
			headers.set(AGENT_CHAIN_HEADER, position.agentChain);
		const response = await this.transport.request(
			`/sites/${this.siteId}/chats/${this.chatId}${path}`,
			{ ...init, headers },
			waitMs
		);
		// The deployment that answered, not the one the transport points at now: a request that left
		// earlier can come back from the other deployment after this client moved, with its versions.
		this.notedServer(this.transport.answeredBy(response));
		return readOk(response, path);
	}

	/**
	 * Merges the server's messages into the local copy (the server's placement wins), tells onEvent of
	 * the ones that are new here and returns them. A message of ours pushed out of its place stays
	 * displaced, to be uploaded again, until the server holds it; an outbox message the server holds
	 * leaves the outbox. Saving is the caller's.
	 */
	private absorb(
		result: Pick<
			ReturnResult,
			"messages" | "chatState" | "status" | "queuePosition" | "visitorState"
		>
	): ChatMessage[] {
		const fresh: ChatMessage[] = [];
		for (const message of result.messages) {
			if (!this.log.get(message.id)) fresh.push(message);
			const pushedOut = this.log.place(message);
			if (pushedOut) this.displaced.push(pushedOut);
		}
		this.displaced = this.displaced.filter(
			(m, i, all) =>
				!this.log.get(m.id) && all.findIndex((d) => d.id === m.id) === i
		);
		if (fresh.length > 0)
			this.outbox = this.outbox.filter((m) => !this.log.get(m.id));
		if (result.chatState) this.chatState = result.chatState;
		this.noteStatus(result.status, result.queuePosition);
		this.keepVisitorState(result.visitorState);
		if (fresh.length > 0) this.tell({ type: "messages", messages: fresh });
		return fresh;
	}

	/** A new status, or a new place in the queue while waiting, is told to the app; a waiting answer without a place keeps the last one. */
	private noteStatus(
		status: ChatStatus | undefined,
		queuePosition?: number
	): void {
		if (!status) return;
		const position =
			status === "waiting"
				? (queuePosition ?? this.waitingPosition)
				: undefined;
		if (status === this.chatStatus && position === this.waitingPosition) return;
		this.chatStatus = status;
		this.waitingPosition = position;
		this.tell(
			position === undefined
				? { type: "status", status }
				: { type: "status", status, queuePosition: position }
		);
	}

	/** Only a visitor keeps it: its next chat starts with it. A store that cannot save it only loses the stickiness. */
	private keepVisitorState(visitorState: string | undefined): void {
		if (
			!visitorState ||
			this.me.role !== "visitor" ||
			visitorState === this.sealedVisitor
		)
			return;
		this.sealedVisitor = visitorState;
		void Promise.resolve()
			.then(() =>
				this.store.saveValue?.(visitorStateKey(this.siteId), visitorState)
			)
			.catch(() => undefined);
		this.tell({ type: "visitorState", visitorState });
	}

	/**
	 * Saves the copy; never rejects. A failed save is told once (a `storage` event, `saved` false) and
	 * tried again with the next change; the copy stays whole in memory meanwhile.
	 */
	private persist(): Promise<void> {
		this.unsaved = true;
		this.saving ??= this.saveChanges();
		return this.saving;
	}

	private async saveChanges(): Promise<void> {
		try {
			while (this.unsaved) {
				this.unsaved = false;
				try {
					// Through a promise, so that a store that throws at once still leaves this loop asynchronously.
					await Promise.resolve().then(() =>
						this.store.save(storeKey(this.siteId, this.chatId), this.snapshot())
					);
				} catch (error) {
					this.unsaved = true;
					if (!this.saveFailed)
						this.tell({ type: "storage", saved: false, error });
					this.saveFailed = true;
					return;
				}
				if (this.saveFailed) this.tell({ type: "storage", saved: true });
				this.saveFailed = false;
			}
		} finally {
			this.saving = undefined;
		}
	}

	private snapshot(): ChatSnapshot {
		return {
			siteId: this.siteId,
			chatId: this.chatId,
			token: this.token,
			chatState: this.chatState,
			status: this.chatStatus,
			messages: this.log.values(),
			outbox: [...this.outbox],
			displaced: [...this.displaced],
		};
	}

	/** A listener that throws must not fail the call that noticed the event (a send the server took, a save). */
	private tell(event: ChatEvent): void {
		try {
			this.onEvent(event);
		} catch (error) {
			console.error("LiveChatClient: onEvent threw", error);
		}
	}
}

const storeKey = (siteId: string, chatId: string) => `${siteId}/${chatId}`;
const visitorStateKey = (siteId: string) => `visitorState:${siteId}`;

/** The rebuild a reply asks for: a `rebuild` frame or a code 1; none for an ack or a code 0. */
function rebuildRequestOf(
	reply: Reply | ReturnResult
): RebuildRequest | undefined {
	if (!("type" in reply)) {
		if (reply.code === -1)
			throw new LiveChatError(
				500,
				reply.error?.type ?? "server_error",
				reply.error?.message ?? "the server answered code -1"
			);
		if (reply.code === 0) return undefined;
	} else if (
		reply.type === "ack" ||
		(reply.type === "sync" && reply.code === 0)
	)
		return undefined;
	const { visitorDataOffset, agentDataOffset, diverged } =
		reply as RebuildRequest;
	return { visitorDataOffset, agentDataOffset, diverged };
}

const sameOffsets = (a: Offsets, b: Offsets) =>
	a.visitorDataOffset === b.visitorDataOffset &&
	a.agentDataOffset === b.agentDataOffset;

/** A refusal that came as an error frame, as the LiveChatError its HTTP twin would have been. */
const asChatError = (error: unknown, path: string) =>
	error instanceof FrameError
		? new LiveChatError(
				statusOfError[error.type] ?? 500,
				error.type,
				error.message,
				path,
				error.retryAfter
			)
		: error;

export function jsonInit(method: string, body: unknown): RequestInit {
	return {
		method,
		headers: { "Content-Type": "application/json" },
		body: JSON.stringify(body),
	};
}

export async function readOk(
	response: Response,
	path?: string
): Promise<unknown> {
	const body = (await response.json().catch(() => undefined)) as
		{ error?: { type?: string; message?: string } } | undefined;
	if (!response.ok) {
		const retryAfter = Number(response.headers.get("Retry-After") ?? NaN);
		throw new LiveChatError(
			response.status,
			body?.error?.type ?? "http_error",
			body?.error?.message ?? `HTTP ${response.status}`,
			path,
			Number.isFinite(retryAfter) ? retryAfter : undefined
		);
	}
	// A 2xx whose body was cut off on the way (the connection dropped): as if no answer came; the call is retried.
	if (body === undefined)
		throw new Unreachable(`the answer to ${path ?? "the request"} was cut off`);
	return body;
}

/** Rebuild chunks: at most 500 messages, and (over a socket) at most `maxChars` of JSON. */
function* chunks(
	messages: ChatMessage[],
	maxChars: number
): Generator<ChatMessage[]> {
	let chunk: ChatMessage[] = [];
	let size = 0;
	for (const m of messages) {
		const length = JSON.stringify(m).length + 1;
		if (
			chunk.length === MAX_REBUILD_MESSAGES ||
			(chunk.length > 0 && size + length > maxChars)
		) {
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
const byStreamThenOffset = (a: ChatMessage, b: ChatMessage) =>
	streamRank(a) - streamRank(b) || a.dataOffset - b.dataOffset;
