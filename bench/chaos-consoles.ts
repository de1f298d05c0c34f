/**
 * The chaos run's agents (SPEC §17, "Routing under faults"): an `AgentClient` console each, online in
 * auto mode on the run's site through the two proxies, taking the chats as the dispatcher routes them.
 * The chat's agent side follows the consoles: the run's agent messages go through the client of the
 * agent whose console last got the chat. Among the faults, agents transfer chats to one another.
 * What each console is given and released, and every chatState handed to it, is recorded.
 */
import WebSocket from "ws";
import { AgentClient, LiveChatClient, LiveChatError } from "../client/index.ts";
import { SITE } from "./chaos-recorder.ts";
import {
	between,
	errorKind,
	forEachLimit,
	pick,
	retry,
	sleep,
	within,
} from "./chaos-util.ts";
import {
	chatFetch,
	presenceOpener,
	socketOpener,
	TRANSPORT,
} from "./chaos-wire.ts";
import type { AgentEvent, OpenSocket } from "../client/index.ts";
import type { Fleet } from "./chaos-fleet.ts";
import type { ChatUnderTest, Recorder } from "./chaos-recorder.ts";

export interface ChaosAgent {
	id: string;
	email: string;
	name: string;
	password: string;
	maxChats: number;
	role?: "agent" | "supervisor";
}

/** Fixed ids, the same on both deployments, so that a token from one is good on the other (SPEC §12). */
export function chaosAgents(count: number, maxChats: number): ChaosAgent[] {
	return Array.from({ length: count }, (_, i) => {
		const n = String(i + 1).padStart(2, "0");
		return {
			id: `chaos-agent-${n}`,
			email: `chaos-agent-${n}@example.com`,
			name: `Chaos Agent ${n}`,
			password: "chaos-password",
			maxChats,
		};
	});
}

/** Never online (so never routed to): it reads chats, histories and the Supervise list for the checks. */
export const SUPERVISOR: ChaosAgent = {
	id: "chaos-supervisor",
	email: "chaos-supervisor@example.com",
	name: "Chaos Supervisor",
	password: "chaos-password",
	maxChats: 1,
	role: "supervisor",
};

const CHAT_PATH = /\/chats\/([0-9a-f-]{36})(?:\/|$)/;
/** At most this many transfers at once. */
const TRANSFERS_IN_FLIGHT = 4;
const CALL_LIMIT_MS = 60_000;

export class Consoles {
	readonly clients = new Map<string, AgentClient>();
	/** Each agent's token, for the checks' own calls as that agent. */
	readonly tokens = new Map<string, string>();
	/** The presence sockets: apart from the chats' (they stay open while the chats settle). */
	readonly sockets = new Set<WebSocket>();

	constructor(
		private readonly recorder: Recorder,
		private readonly fleet: Fleet,
		readonly agents: ChaosAgent[]
	) {}

	/** Logs every agent in on A and brings its console online; resolves once each is present. */
	async open(): Promise<void> {
		await forEachLimit(this.agents, 5, async ({ id, email, password }) => {
			const { token, agent } = await retry(() =>
				LiveChatClient.agentLogin({
					baseUrls: [this.fleet.deployments[0].url],
					siteId: SITE,
					email,
					password,
				})
			);
			this.tokens.set(id, token);
			this.recorder.agentNote(id, "logged in");
			this.clients.set(
				id,
				new AgentClient({
					...TRANSPORT,
					baseUrls: this.fleet.proxies.map((p) => p.url),
					siteId: SITE,
					token,
					agent,
					fetch: this.fetchFor(id),
					openSocket: this.socketsFor(id),
					onEvent: (event) => this.heard(id, event),
					pingMs: 5000,
				})
			);
		});
		await Promise.all([...this.clients.values()].map((c) => c.connect()));
	}

	/** Every chat client of every console stops its socket or polling (the consoles stay present). */
	disconnectChats(): void {
		for (const console of this.clients.values())
			for (const chat of console.chats.values()) chat.disconnect();
	}

	/** Disconnects every console; answers how many presence sockets are still open after that. */
	close(): number {
		for (const client of this.clients.values()) client.disconnect();
		return [...this.sockets].filter((ws) => ws.readyState === WebSocket.OPEN)
			.length;
	}

	/** The agent side's sends and transfers, one at a time per chat. */
	turn<T>(chat: ChatUnderTest, work: () => Promise<T>): Promise<T> {
		const next = chat.agentTurn.then(work, work);
		chat.agentTurn = next.catch(() => undefined);
		return next;
	}

	/** Every 2 to 5 s until the faults stop, a chat goes from its agent to another online agent with room. */
	async transfers(until: number): Promise<void> {
		const inFlight = new Set<Promise<void>>();
		for (;;) {
			await sleep(Math.min(between(2000, 5000), until - Date.now()));
			if (Date.now() >= until) break;
			if (inFlight.size >= TRANSFERS_IN_FLIGHT) continue;
			const chat = pick(
				this.recorder.chats.filter((c) => c.agentId && !c.transferring)
			) as ChatUnderTest | undefined;
			if (!chat) continue;
			const load = new Map<string, number>();
			for (const c of this.recorder.chats)
				if (c.agentId) load.set(c.agentId, (load.get(c.agentId) ?? 0) + 1);
			// Room to spare as far as the run knows: a refusal for capacity would say little.
			const to = pick(
				this.agents.filter(
					(a) =>
						a.id !== chat.agentId &&
						this.clients.get(a.id)?.connectionState === "websocket" &&
						(load.get(a.id) ?? 0) < a.maxChats - 1
				)
			) as ChaosAgent | undefined;
			if (!to) continue;
			const transfer = this.transfer(chat, chat.agentId!, to.id).finally(() =>
				inFlight.delete(transfer)
			);
			inFlight.add(transfer);
		}
		await Promise.all(inFlight);
	}

	/** After the agent's messages are all in (a flush), so that its stream keeps the order they were sent in. */
	private async transfer(
		chat: ChatUnderTest,
		from: string,
		to: string
	): Promise<void> {
		chat.transferring = true;
		try {
			await this.turn(chat, async () => {
				if (chat.agentId !== from) return;
				const client = chat.agentClients.get(from)!;
				await within(client.flush(), CALL_LIMIT_MS, "flush").catch((error) =>
					this.recorder.clientError(chat, "agent", "flush", error)
				);
				if (client.pending.length > 0) return;
				const { transfers } = this.recorder.tally;
				transfers.asked++;
				this.recorder.note(chat, "agent", `[${from}] transfer to ${to}`);
				try {
					await within(
						this.clients.get(from)!.transfer(chat.id, to),
						CALL_LIMIT_MS,
						"transfer"
					);
					transfers.done++;
					this.recorder.note(chat, "agent", `[${from}] transferred to ${to}`);
				} catch (error) {
					if (error instanceof LiveChatError && error.status === 409)
						transfers.refused++;
					else transfers.failed++;
					this.recorder.clientError(chat, "agent", "transfer", error);
				}
			});
		} finally {
			chat.transferring = false;
		}
	}

	/** What a console hears: the chat's agent side follows its assignments and releases. */
	private heard(agentId: string, event: AgentEvent): void {
		switch (event.type) {
			case "assigned": {
				// Without a chatState the client came from the dispatcher's list (…/agents/me/chats), not from a room's answer.
				const how = event.chat.chatState ? "" : " (from the dispatcher's list)";
				this.recorder.agentNote(agentId, `assigned ${event.chatId}${how}`);
				return this.recorder.whenKnown(event.chatId, (chat) => {
					this.recorder.note(
						chat,
						"agent",
						`[${agentId}] console: assigned${how}`
					);
					chat.agentClients.set(agentId, event.chat);
					chat.agentId = agentId;
					chat.clients.agent = event.chat;
					// HTTP-only chats are polled by the run itself, as their visitors are.
					if (!chat.socket) event.chat.disconnect();
				});
			}
			case "released": {
				this.recorder.agentNote(
					agentId,
					`released ${event.chatId} (${event.reason})`
				);
				return this.recorder.whenKnown(event.chatId, (chat) => {
					this.recorder.note(
						chat,
						"agent",
						`[${agentId}] console: released (${event.reason})`
					);
					if (chat.agentId === agentId) chat.agentId = undefined;
				});
			}
			case "connection":
				return this.recorder.agentNote(agentId, `present by ${event.via}`);
			case "error":
				return this.recorder.consoleError(
					agentId,
					"error frame",
					new LiveChatError(0, event.error.type, event.error.message)
				);
			default:
				return;
		}
	}

	/** The console's own calls are traced on the agent; its chat clients' calls on their chat. */
	private fetchFor(agentId: string): typeof fetch {
		return async (input, init) => {
			const url = new URL(String(input));
			const chat = this.recorder.chat(CHAT_PATH.exec(url.pathname)?.[1]);
			if (chat)
				return chatFetch(
					this.recorder,
					this.fleet,
					chat,
					"agent",
					agentId
				)(input, init);
			const what = `${this.fleet.behind(url.port)} ${init?.method ?? "GET"} ${url.pathname.replace(/^.*\/sites\/[^/]+/, "")}`;
			try {
				const response = await fetch(input, init);
				this.recorder.agentNote(agentId, `${what} → ${response.status}`);
				return response;
			} catch (error) {
				this.recorder.agentNote(agentId, `${what} failed: ${errorKind(error)}`);
				throw error;
			}
		};
	}

	/** The presence socket (traced, its assignments' chatStates recorded); chat sockets for the chats that have them. */
	private socketsFor(agentId: string): OpenSocket {
		return (url) => {
			const path = new URL(url).pathname;
			if (path.endsWith("/agents/me/ws"))
				return presenceOpener(
					this.recorder,
					this.fleet,
					agentId,
					this.sockets
				)(url);
			const chat = this.recorder.chat(CHAT_PATH.exec(path)?.[1]);
			if (!chat?.socket)
				return Promise.reject(new Error("an HTTP-only chat of the run"));
			return socketOpener(
				this.recorder,
				this.fleet,
				chat,
				"agent",
				agentId
			)(url);
		};
	}
}
