/**
 * The SDK's HTTP side: its error, the JSON of an answer, a chat call with the token and the copy's
 * position (offsets and chains, SPEC §3) in its headers, and the calls made before there is a chat
 * (start, agent login, offline message). Error frames of the socket become the same errors, with
 * the status their HTTP twin would have had.
 */
import { statusOfError } from "../src/protocol/error-status.ts";
import {
	AGENT_CHAIN_HEADER,
	AGENT_OFFSET_HEADER,
	AgentLoginResultSchema,
	EventAnswerSchema,
	ReturnResultSchema,
	StartChatResultSchema,
	VISITOR_CHAIN_HEADER,
	VISITOR_OFFSET_HEADER,
} from "../src/protocol/wire.ts";
import { visitorStateKey } from "./chat-copy.ts";
import { FrameError } from "./socket-session.ts";
import { Transport, Unreachable } from "./transport.ts";
import type { StartChat, StartChatResult } from "../src/protocol/chat.ts";
import type { Position } from "../src/protocol/offsets.ts";
import type { ChatStore } from "./store.ts";
import type { TransportOptions } from "./transport.ts";

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
export const refusedForGood = (error: unknown) =>
	error instanceof LiveChatError &&
	error.path === "/messages" &&
	[400, 403, 409, 413].includes(error.status);

/** A refusal that came as an error frame, as the LiveChatError its HTTP twin would have been. */
export const asChatError = (error: unknown, path: string) =>
	error instanceof FrameError
		? new LiveChatError(
				statusOfError(error.type),
				error.type,
				error.message,
				path,
				error.retryAfter
			)
		: error;

/**
 * Accept answers code 1 when the room lost the chat: only the visitor's copy can bring a waiting
 * chat back, so the agent is told the chat is unavailable for now.
 */
/** The room's code 1 instead of the answer asked for: it lost the chat, and a client's copy must rebuild it first. */
export const lostChat = (answer: unknown) =>
	ReturnResultSchema.safeParse(answer).data?.code === 1;

export function refuseLostChat(answer: unknown, path = "/accept"): void {
	if (lostChat(answer))
		throw new LiveChatError(
			503,
			"chat_unavailable",
			"the server lost this chat; it is back once the visitor's client rebuilds it",
			path
		);
}

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

/** One chat's HTTP calls. */
export class ChatHttp {
	constructor(
		private readonly transport: Transport,
		private readonly chat: { siteId: string; chatId: string; token: string },
		/** Told which deployment gave each answer. */
		private readonly answeredBy: (baseUrl: string) => void
	) {}

	get baseUrl(): string {
		return this.transport.baseUrl;
	}

	/** A chat call, the token and the caller's position in its headers; the JSON of a 2xx answer. */
	async request(
		path: string,
		init: RequestInit,
		position: Position,
		waitMs = 0
	): Promise<unknown> {
		const { siteId, chatId, token } = this.chat;
		const headers = new Headers(init.headers);
		headers.set("Authorization", `Bearer ${token}`);
		headers.set(VISITOR_OFFSET_HEADER, String(position.visitorDataOffset));
		headers.set(AGENT_OFFSET_HEADER, String(position.agentDataOffset));
		if (position.visitorChain)
			headers.set(VISITOR_CHAIN_HEADER, position.visitorChain);
		if (position.agentChain)
			headers.set(AGENT_CHAIN_HEADER, position.agentChain);
		const response = await this.transport.request(
			`/sites/${siteId}/chats/${chatId}${path}`,
			{ ...init, headers },
			waitMs
		);
		// The deployment that answered, not the one the transport points at now: a request that left
		// earlier can come back from the other deployment after this client moved, with its versions.
		this.answeredBy(this.transport.answeredBy(response));
		return readOk(response, path);
	}
}

/**
 * The start of a chat (SPEC §4), with the visitor's sealed state (given, or kept by the store from
 * its last chat) so that the chat keeps its visitorId and goes to its last agent (SPEC §4, §7).
 */
export async function startChat(
	options: TransportOptions &
		Partial<StartChat> & { siteId: string; store?: ChatStore }
): Promise<StartChatResult> {
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
	return StartChatResultSchema.parse(answer);
}

/** Logs an agent in. */
export async function agentLogin(
	options: TransportOptions & {
		siteId: string;
		email: string;
		password: string;
	}
) {
	const response = await new Transport(options).request(
		`/sites/${options.siteId}/agent-sessions`,
		jsonInit("POST", { email: options.email, password: options.password })
	);
	return AgentLoginResultSchema.parse(await readOk(response));
}

/** Leaves a message for the site when no agent is online; the id makes a retried submit count once. */
export async function submitOfflineMessage(
	options: TransportOptions & { siteId: string },
	message: OfflineMessage
): Promise<string> {
	const response = await new Transport(options).request(
		`/sites/${options.siteId}/offline-messages`,
		jsonInit("POST", { id: crypto.randomUUID(), ...message })
	);
	return EventAnswerSchema.parse(await readOk(response)).id;
}

export interface OfflineMessage {
	email: string;
	message: string;
	name?: string;
	phone?: string;
	department?: string;
}
