/**
 * The console's calls that the SDK does not make (SPEC §4): console config, history, tracked
 * visitors, bans, preferences, private messages, join and monitor. Errors come back as text a
 * person can act on.
 */
import type { LiveChatClient } from "../../client/index.ts";
import type { ChatMessage } from "../../src/protocol/chat.ts";
import type {
	ConsoleConfig,
	LiveChatSummary,
} from "../../src/protocol/console.ts";
import type { VisitorSummary } from "../../src/protocol/visitors.ts";

export type { ConsoleConfig, LiveChatSummary, VisitorSummary };

export interface HistoryChat {
	chatId: string;
	visitor: { name: string | null; email: string | null };
	agentIds: string[];
	endTime: number;
	messageCount: number;
	rating: { rating: number; comment: string | null } | null;
}

export interface HistoryTranscript {
	chat: HistoryChat & {
		wrapups: {
			agentId: string;
			category: string | null;
			comment: string | null;
		}[];
	};
	messages: Omit<ChatMessage, "mac">[];
}

const FRIENDLY: Record<string, string> = {
	unauthorized: "Your session has expired. Please sign in again.",
	rate_limited: "Too many attempts. Wait a moment and try again.",
	at_capacity: "That agent has no room for another chat.",
	banned: "This visitor is banned.",
};

/** What went wrong, in words for the agent; `type` keeps the server's code. */
export class ConsoleError extends Error {
	constructor(
		readonly status: number,
		readonly type: string,
		message: string
	) {
		super(FRIENDLY[type] ?? message);
	}
}

/** The text to show for any failure: ours, the SDK's (which carry a server message), or the network's. */
export function describeError(error: unknown): string {
	if (error instanceof ConsoleError) return error.message;
	if (
		error instanceof Error &&
		"type" in error &&
		typeof error.type === "string"
	)
		return FRIENDLY[error.type] ?? error.message;
	return "The server could not be reached. Check the connection and try again.";
}

export class ConsoleApi {
	constructor(
		readonly baseUrl: string,
		readonly siteId: string,
		readonly token: string
	) {}

	async call<T>(
		path: string,
		init: {
			method?: string;
			body?: unknown;
			headers?: Record<string, string>;
		} = {}
	): Promise<T> {
		const headers: Record<string, string> = {
			Authorization: `Bearer ${this.token}`,
			...init.headers,
		};
		if (init.body !== undefined) headers["Content-Type"] = "application/json";
		let response: Response;
		try {
			response = await fetch(`${this.baseUrl}/v1/sites/${this.siteId}${path}`, {
				method: init.method ?? "GET",
				headers,
				body: init.body === undefined ? undefined : JSON.stringify(init.body),
			});
		} catch {
			throw new ConsoleError(
				0,
				"unreachable",
				"The server could not be reached. Check the connection and try again."
			);
		}
		const body = (await response.json().catch(() => undefined)) as
			{ error?: { type?: string; message?: string } } | undefined;
		if (!response.ok)
			throw new ConsoleError(
				response.status,
				body?.error?.type ?? "http_error",
				body?.error?.message ?? `The server answered ${response.status}.`
			);
		return body as T;
	}

	config = () => this.call<ConsoleConfig>("/console-config");
	liveChats = async () =>
		(await this.call<{ chats: LiveChatSummary[] }>("/live-chats")).chats;
	myChats = async () =>
		(
			await this.call<{ chats: { chatId: string; visitorName?: string }[] }>(
				"/agents/me/chats"
			)
		).chats;
	history = (q: string) =>
		this.call<{ chats: HistoryChat[]; next: string | null }>(
			`/history/chats?limit=50${q ? `&q=${encodeURIComponent(q)}` : ""}`
		);
	transcript = (chatId: string) =>
		this.call<HistoryTranscript>(`/history/chats/${chatId}`);
	visitors = async () =>
		(await this.call<{ visitors: VisitorSummary[] }>("/visitors")).visitors;
	invite = (visitorId: string, message: string) =>
		this.call<{ delivered: number }>(`/visitors/${visitorId}/invite`, {
			method: "POST",
			body: { message },
		});
	ban = (visitorId: string, body: { reason?: string; minutes?: number }) =>
		this.call(`/visitors/${visitorId}/ban`, { method: "POST", body });
	savePreferences = (preferences: Record<string, boolean | string>) =>
		this.call("/agents/me/preferences", { method: "PUT", body: preferences });
	privateMessage = (agentId: string, content: string) =>
		this.call<{ delivered: number }>(`/agents/${agentId}/messages`, {
			method: "POST",
			body: { content },
		});
	join = (chatId: string) =>
		this.call<{ chatId: string; chatState: string }>(`/chats/${chatId}/join`, {
			method: "POST",
		});
	monitor = (chatId: string) =>
		this.call(`/chats/${chatId}/monitor`, { method: "POST" });
	inviteAgent = (chatId: string, agentId: string) =>
		this.call(`/chats/${chatId}/invite`, { method: "POST", body: { agentId } });

	/**
	 * A canned message goes out with `canned: "<shortcut>"` (SPEC §4, logged as cannedMessage.useLog).
	 * LiveChatClient.send takes no `canned` yet, so it is posted here at the copy's offsets and the copy
	 * reads it back; a room that is behind (code 1) gets it through the client instead, unlogged.
	 */
	/** Through the chat's outbox like any message (retried, rebuilt, once), with its shortcut for cannedMessage.useLog. */
	async sendCanned(
		chat: LiveChatClient,
		shortcut: string,
		text: string
	): Promise<void> {
		await chat.send(text, undefined, shortcut);
	}
}
