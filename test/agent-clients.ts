/** What the AgentClient tests share: agents with known credentials, and clients that record what they are told. */
import { env } from "cloudflare:test";
import { AgentClient, LiveChatClient } from "../client/index.ts";
import { fetchVia, socketOpener, until } from "./client-helpers.ts";
import { api, BASE, json } from "./helpers.ts";
import type {
	AgentEvent,
	ChatEvent,
	ChatStore,
	MemoryStore,
} from "../client/index.ts";

export const PASSWORD = "correct horse battery";

/** Every client a test made, disconnected after it (afterEach) so that no socket or timer outlives it. */
const clients: { disconnect(): void }[] = [];
export function disconnectAll(): void {
	for (const client of clients.splice(0)) client.disconnect();
}

export async function agentAccount(
	siteId: string,
	name: string,
	maxChats = 5
): Promise<string> {
	const email = `${name.toLowerCase()}-${crypto.randomUUID().slice(0, 6)}@example.com`;
	const created = await api(`/admin/sites/${siteId}/agents`, {
		method: "POST",
		token: env.ADMIN_TOKEN,
		body: json({ email, name, password: PASSWORD, maxChats }),
	});
	if (created.status !== 201)
		throw new Error(
			`agent setup failed: ${created.status} ${await created.text()}`
		);
	return email;
}

/** An agent console: an AgentClient over the Worker's own sockets, every event it was told kept. */
export class Console {
	readonly events: AgentEvent[] = [];

	private constructor(
		readonly client: AgentClient,
		/** Every socket the client opened, its chats' included. */
		readonly sockets: WebSocket[]
	) {}

	static async login(
		siteId: string,
		name: string,
		options: {
			maxChats?: number;
			connect?: boolean;
			openSocket?: (url: string) => Promise<WebSocket>;
			heartbeatMs?: number;
			pingMs?: number;
			store?: ChatStore;
		} = {}
	) {
		const email = await agentAccount(siteId, name, options.maxChats);
		let made!: Console;
		const sockets: WebSocket[] = [];
		const client = await AgentClient.login({
			baseUrls: [BASE],
			siteId,
			email,
			password: PASSWORD,
			fetch: fetchVia,
			openSocket: options.openSocket ?? socketOpener(sockets),
			heartbeatMs: options.heartbeatMs,
			pingMs: options.pingMs,
			store: options.store,
			onEvent: (event) => made.events.push(event),
		});
		made = new Console(client, sockets);
		clients.push(client);
		if (options.connect !== false) await client.connect();
		return made;
	}

	/** The chat client of the first `assigned` for this chat, waiting for it. */
	async assigned(chatId: string): Promise<LiveChatClient> {
		await until(
			() => this.find("assigned", chatId) !== undefined,
			`assigned ${chatId}`
		);
		return this.find("assigned", chatId)!.chat;
	}

	find<T extends "assigned" | "released">(
		type: T,
		chatId: string
	): Extract<AgentEvent, { type: T }> | undefined {
		return this.events.find(
			(e): e is Extract<AgentEvent, { type: T }> =>
				e.type === type && "chatId" in e && e.chatId === chatId
		);
	}

	of<T extends AgentEvent["type"]>(
		type: T
	): Extract<AgentEvent, { type: T }>[] {
		return this.events.filter(
			(e): e is Extract<AgentEvent, { type: T }> => e.type === type
		);
	}
}

/** A visitor's widget: long-polls unless told to use the socket; every chat event kept. */
export async function visitorChat(
	siteId: string,
	options: { store?: MemoryStore; socket?: boolean; name?: string } = {}
) {
	const events: ChatEvent[] = [];
	const visitor = await LiveChatClient.startChat({
		baseUrls: [BASE],
		siteId,
		visitor: { name: options.name ?? "Vera" },
		fetch: fetchVia,
		openSocket: options.socket ? socketOpener() : undefined,
		store: options.store,
		onEvent: (event) => events.push(event),
	});
	clients.push(visitor);
	return { visitor, events };
}
