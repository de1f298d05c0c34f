/**
 * The end of a chaos run: let every client settle, end every chat, and gather what the checks
 * need (the clients' copies, A's copy, and the transcripts in D1 on each deployment).
 */
import { SITE } from "./chaos-recorder.ts";
import {
	errorKind,
	forEachLimit,
	pick,
	sleep,
	TimedOut,
	within,
} from "./chaos-util.ts";
import type { LiveChatClient } from "../client/index.ts";
import type { ChatMessage } from "../src/protocol/chat.ts";
import type { ChatOutcome } from "./chaos-check.ts";
import type { Deployment, Fleet } from "./chaos-fleet.ts";
import type { ChatUnderTest, Recorder } from "./chaos-recorder.ts";

/** A single client call (flush, poll, end) in the settling that takes longer than this is stuck. */
export const CALL_LIMIT_MS = 60_000;

export class Settling {
	constructor(
		private readonly recorder: Recorder,
		private readonly fleet: Fleet,
		/** A supervisor's: it reads any chat of the site and every transcript. */
		private readonly readToken: string
	) {}

	/** Rounds of flush and poll on both sides until both copies agree and no outbox holds anything. */
	async settle(ms: number): Promise<ChatUnderTest[]> {
		const deadline = Date.now() + ms;
		let pending = [...this.recorder.chats];
		while (pending.length > 0 && Date.now() < deadline) {
			await forEachLimit(pending, 10, async (chat) => {
				for (const side of ["visitor", "agent", "visitor"] as const) {
					const client = chat.clients[side];
					if (!client) continue;
					try {
						await within(client.flush(), CALL_LIMIT_MS, "flush");
						await within(client.poll(), CALL_LIMIT_MS, "poll");
					} catch (error) {
						this.recorder.clientError(chat, side, "settle", error);
						if (error instanceof TimedOut) this.recorder.stuck.add(chat);
					}
				}
			});
			pending = pending.filter((chat) => !converged(chat));
			if (pending.length > 0) await sleep(1000);
		}
		return pending;
	}

	async end(chat: ChatUnderTest): Promise<void> {
		const side = chat.clients.agent
			? pick(["visitor", "agent"] as const)
			: "visitor";
		const client = chat.clients[side]!;
		for (let attempt = 0; attempt < 5; attempt++) {
			try {
				this.recorder.note(chat, side, "end");
				return await within(client.end(), CALL_LIMIT_MS, "end");
			} catch (error) {
				this.recorder.clientError(chat, side, "end", error);
				if (error instanceof TimedOut)
					return void this.recorder.stuck.add(chat);
				await sleep(1000);
			}
		}
	}

	async outcomes(persistMs: number): Promise<ChatOutcome[]> {
		const { chats } = this.recorder;
		const servers = new Map<string, ChatMessage[] | undefined>();
		await forEachLimit(
			chats,
			10,
			async (chat) => void servers.set(chat.id, await this.serverCopy(chat))
		);
		const transcripts = new Map<string, ChatOutcome["transcripts"]>(
			chats.map((c) => [c.id, []])
		);
		const deadline = Date.now() + persistMs;
		for (const d of this.fleet.deployments) {
			let waiting = chats.filter((c) => c.endedOn.has(d.name));
			const once = chats.filter((c) => !c.endedOn.has(d.name));
			// Where no end happened, a transcript is not expected, but one that is there must be whole.
			await forEachLimit(once, 10, async (chat) => {
				const messageIds = await this.transcript(d, chat);
				if (messageIds)
					transcripts.get(chat.id)!.push({ deployment: d.name, messageIds });
			});
			while (waiting.length > 0 && Date.now() < deadline) {
				const found = new Set<string>();
				await forEachLimit(waiting, 10, async (chat) => {
					const messageIds = await this.transcript(d, chat);
					if (!messageIds) return;
					transcripts.get(chat.id)!.push({ deployment: d.name, messageIds });
					found.add(chat.id);
				});
				waiting = waiting.filter((c) => !found.has(c.id));
				if (waiting.length > 0) await sleep(2000);
			}
		}
		return chats.map((chat) => ({
			chatId: chat.id,
			sent: chat.sent,
			accepted: acceptedOf(chat),
			copies: {
				visitor: chat.clients.visitor.messages,
				agent: chat.clients.agent?.messages,
				server: servers.get(chat.id),
			},
			transcripts: transcripts.get(chat.id)!,
			mustBePersistedOn: [...chat.endedOn],
		}));
	}

	/** The chat as A holds it (offsets 0/0: everything). A memory-mode room that lost it meanwhile is rebuilt by the clients first. */
	private async serverCopy(
		chat: ChatUnderTest
	): Promise<ChatMessage[] | undefined> {
		for (let attempt = 0; attempt < 3; attempt++) {
			try {
				const response = await this.asSupervisor(
					`${this.fleet.deployments[0].url}/v1/sites/${SITE}/chats/${chat.id}/messages`
				);
				const body = (await response.json()) as {
					code: number;
					messages: ChatMessage[];
				};
				if (response.ok && body.code === 0) return body.messages;
				this.recorder.note(
					chat,
					undefined,
					`server copy on A: ${response.status} code ${body.code}; the clients rebuild it`
				);
				for (const side of ["visitor", "agent"] as const) {
					const client = chat.clients[side];
					if (!client) continue;
					await within(client.poll(), CALL_LIMIT_MS, "poll").catch((error) =>
						this.recorder.clientError(chat, side, "settle", error)
					);
				}
			} catch (error) {
				this.recorder.note(
					chat,
					undefined,
					`server copy on A failed: ${errorKind(error)}`
				);
			}
		}
		return undefined;
	}

	private async transcript(
		d: Deployment,
		chat: ChatUnderTest
	): Promise<string[] | undefined> {
		try {
			const response = await this.asSupervisor(
				`${d.url}/v1/sites/${SITE}/history/chats/${chat.id}`
			);
			if (response.status === 404) return undefined;
			if (!response.ok)
				throw new Error(
					`history on ${d.name}: ${response.status} ${await response.text()}`
				);
			return (
				(await response.json()) as { messages: { id: string }[] }
			).messages.map((m) => m.id);
		} catch (error) {
			this.recorder.note(
				chat,
				undefined,
				`history on ${d.name} failed: ${errorKind(error)}`
			);
			return undefined;
		}
	}

	private asSupervisor(url: string): Promise<Response> {
		return fetch(url, {
			headers: { Authorization: `Bearer ${this.readToken}` },
			signal: AbortSignal.timeout(10_000),
		});
	}
}

/** Both sides hold the same messages and send nothing more; a chat no agent got has only its visitor. */
function converged(chat: ChatUnderTest): boolean {
	const { visitor, agent } = chat.clients;
	if (visitor.pending.length > 0) return false;
	if (!agent) return true;
	if (agent.pending.length > 0) return false;
	const ids = (client: LiveChatClient) =>
		client.messages.map((m) => `${m.id}@${m.dataOffset}`).join(" ");
	return ids(visitor) === ids(agent);
}

/**
 * Accepted: its send() resolved, or it reached its sender's copy later (an outbox flushed after a failed
 * send). The agent side's sender may be any agent the chat was with: each of their copies counts.
 */
function acceptedOf(chat: ChatUnderTest): Set<string> {
	const accepted = new Set(chat.resolved);
	const copies = {
		visitor: [chat.clients.visitor],
		agent: [...chat.agentClients.values()],
	};
	for (const side of ["visitor", "agent"] as const) {
		const own = new Set(
			copies[side].flatMap((client) => client.messages.map((m) => m.id))
		);
		for (const id of chat.sent[side]) if (own.has(id)) accepted.add(id);
	}
	return accepted;
}
