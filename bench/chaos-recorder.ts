/**
 * What the chaos run knows and keeps: the chats under test (shapes in chaos-types.ts), the tally of what
 * happened, and each chat's trace (written out for the chats with problems).
 */
import { writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { brief, errorKind } from "./chaos-util.ts";
import type { ChatOutcome, Findings, Side } from "./chaos-check.ts";
import type { OwnerFindings, RoomState } from "./chaos-owners.ts";
import type {
	ChaosFigures,
	ChaosOptions,
	ChatUnderTest,
	TransferTally,
} from "./chaos-types.ts";
import type WebSocket from "ws";

export type {
	ChaosFigures,
	ChaosOptions,
	ChatUnderTest,
	TransferTally,
} from "./chaos-types.ts";

export const SITE = "chaos";
/** Per chat, the newest lines of its trace are kept (a long run makes many). */
const TRACE_LIMIT = 4000;

export class Recorder {
	readonly chats: ChatUnderTest[] = [];
	readonly started = Date.now();
	readonly tally = {
		evictions: 0,
		crashes: 0,
		switches: 0,
		rebuildRequests: 0,
		rebuilds: 0,
		divergences: 0,
		hungRequests: 0,
		silentSockets: 0,
		socketsOpenAfterDisconnect: 0,
		dispatcherEvictions: 0,
		/** The most chats no client of the run knows that a routing snapshot found given out (starts whose answer was lost). */
		strangers: 0,
		transfers: { asked: 0, done: 0, refused: 0, failed: 0 } as TransferTally,
		errors: new Map<string, number>(),
	};
	/** Each agent console's trace (its own calls, its socket, what it was given and released). */
	readonly agentTraces = new Map<string, string[]>();
	private readonly byId = new Map<string, ChatUnderTest>();
	/** What happened to a chat before its start was answered (the dispatcher may route it at once). */
	private readonly early = new Map<string, ((chat: ChatUnderTest) => void)[]>();
	readonly openSockets = new Set<WebSocket>();
	/** Chats with a client call that never came back: their traces are kept whatever the checks say. */
	readonly stuck = new Set<ChatUnderTest>();
	private readonly events: string[] = [];

	constructor(private readonly options: ChaosOptions) {}

	addChat(chat: ChatUnderTest): void {
		this.chats.push(chat);
		this.byId.set(chat.id, chat);
		for (const happened of this.early.get(chat.id) ?? []) happened(chat);
		this.early.delete(chat.id);
	}

	/** Now for a chat of the run, or once its start is answered; never for a chat no client of the run started. */
	whenKnown(chatId: string, then: (chat: ChatUnderTest) => void): void {
		const chat = this.byId.get(chatId);
		if (chat) return then(chat);
		const waiting = this.early.get(chatId) ?? [];
		this.early.set(chatId, [...waiting, then]);
	}

	chat(chatId: string | undefined): ChatUnderTest | undefined {
		return chatId === undefined ? undefined : this.byId.get(chatId);
	}

	/** A sealed chatState someone was handed about the chat: kept for the owners' history (chaos-owners.ts). */
	observeState(
		chat: ChatUnderTest,
		seenBy: string,
		via: string,
		sealed: string
	): void {
		if (chat.sealedStates.has(sealed)) return;
		chat.sealedStates.set(sealed, {
			seenBy,
			via,
			at: (Date.now() - this.started) / 1000,
		});
	}

	agentNote(agentId: string, line: string): void {
		let trace = this.agentTraces.get(agentId);
		if (!trace) this.agentTraces.set(agentId, (trace = []));
		if (trace.length >= TRACE_LIMIT)
			trace.splice(0, TRACE_LIMIT / 2, "(older lines dropped)");
		trace.push(`${this.elapsed()} ${line}`);
	}

	/** A console's failure, counted with the clients' errors. */
	consoleError(agentId: string, during: string, error: unknown): void {
		const kind = `console ${during}: ${errorKind(error)}`;
		this.tally.errors.set(kind, (this.tally.errors.get(kind) ?? 0) + 1);
		this.agentNote(
			agentId,
			`${kind} (${error instanceof Error ? error.message.slice(0, 160) : String(error)})`
		);
	}

	clientError(
		chat: ChatUnderTest,
		side: Side,
		during: string,
		error: unknown
	): void {
		const kind = `${during}: ${errorKind(error)}`;
		this.tally.errors.set(kind, (this.tally.errors.get(kind) ?? 0) + 1);
		this.note(
			chat,
			side,
			`${kind} (${error instanceof Error ? error.message.slice(0, 160) : String(error)})`
		);
	}

	progressLine(): string {
		const accepted = this.chats.reduce((n, c) => n + c.resolved.size, 0);
		const errors = [...this.tally.errors.values()].reduce((a, b) => a + b, 0);
		const { evictions, crashes, switches, rebuilds, dispatcherEvictions } =
			this.tally;
		const routed = this.chats.filter((c) => c.agentClients.size > 0).length;
		return `${accepted} sends accepted, ${errors} client errors, ${evictions} evictions, ${dispatcherEvictions} dispatcher evictions, ${crashes} crashes, ${switches} switches, ${rebuilds} rebuild uploads; ${routed} of ${this.chats.length} chats routed, ${this.tally.transfers.done} transfers`;
	}

	/** A file of this run beside the traces: named by mode and start time, so runs never overwrite each other. */
	outputFile(what: string, extension: string): string {
		const stamp = new Date(this.started).toISOString().replace(/[:.]/g, "-");
		return join(
			this.options.tracesDir ?? tmpdir(),
			`elc-chaos-${what}-${this.options.chatState}-${stamp}.${extension}`
		);
	}

	/** The traces of the chats and agent consoles the problems name, and of the unsettled chats; with each chat's owners' history. */
	writeTraces(
		problems: string[],
		unsettled: ChatUnderTest[],
		ownerHistory: ReadonlyMap<string, RoomState[]>
	): string {
		const troubled = new Set([
			...unsettled.map((c) => c.id),
			...problems.map((p) => /^chat (\S+):/.exec(p)?.[1]),
		]);
		const file = this.outputFile("traces", "json");
		const chats = this.chats
			.filter((c) => troubled.has(c.id))
			.map((c) => ({
				chatId: c.id,
				index: c.index,
				socket: c.socket,
				problems: problems.filter((p) => p.startsWith(`chat ${c.id}:`)),
				sent: c.sent,
				resolved: [...c.resolved],
				endedOn: [...c.endedOn],
				owners: (ownerHistory.get(c.id) ?? []).map(
					(s) =>
						`${s.at.toFixed(2)} v${s.v} ${s.status} [${s.agentIds.join(", ")}] past [${s.pastAgentIds.join(", ")}] to ${s.seenBy} via ${s.via}`
				),
				visitorCopy: c.clients.visitor.messages.map(brief),
				agentCopies: Object.fromEntries(
					[...c.agentClients].map(([id, client]) => [
						id,
						client.messages.map(brief),
					])
				),
				trace: c.trace,
			}));
		const agents = Object.fromEntries(
			[...this.agentTraces].filter(([id]) =>
				problems.some((p) => p.includes(id))
			)
		);
		writeFileSync(
			file,
			JSON.stringify({ events: this.events, chats, agents }, null, 1)
		);
		return file;
	}

	private elapsed(): string {
		return ((Date.now() - this.started) / 1000).toFixed(2).padStart(7);
	}

	event(line: string): void {
		this.events.push(`${this.elapsed()} ${line}`);
		for (const chat of this.chats) this.note(chat, undefined, `** ${line}`);
		for (const agentId of this.agentTraces.keys())
			this.agentNote(agentId, `** ${line}`);
	}

	note(chat: ChatUnderTest, side: Side | undefined, line: string): void {
		if (chat.trace.length >= TRACE_LIMIT)
			chat.trace.splice(0, TRACE_LIMIT / 2, "(older lines dropped)");
		chat.trace.push(`${this.elapsed()} ${side ?? "harness"}: ${line}`);
	}

	figures(
		findings: Findings,
		owners: OwnerFindings,
		outcomes: ChatOutcome[],
		unsettled: number,
		stuck: number
	): ChaosFigures {
		// What any client of the chat still holds, an earlier owner's included.
		const unsent = this.chats.reduce(
			(n, chat) =>
				[chat.clients.visitor, ...chat.agentClients.values()].reduce(
					(m, client) => m + client.pending.length,
					n
				),
			0
		);
		const { tally } = this;
		return {
			chatState: this.options.chatState,
			seconds: this.options.seconds,
			chats: this.chats.length,
			socketChats: this.chats.filter((c) => c.socket).length,
			agents: this.options.agents,
			maxChats: this.options.maxChats,
			routed: this.chats.filter((c) => c.agentClients.size > 0).length,
			messagesAccepted: outcomes.reduce((n, o) => n + o.accepted.size, 0),
			unsent,
			unsettled,
			stuck,
			...findings,
			...owners,
			problems: [...findings.problems, ...owners.problems],
			statesSeen: this.chats.reduce((n, c) => n + c.sealedStates.size, 0),
			transfers: tally.transfers,
			dispatcherEvictions: tally.dispatcherEvictions,
			strangers: tally.strangers,
			evictions: tally.evictions,
			crashes: tally.crashes,
			switches: tally.switches,
			rebuildRequests: tally.rebuildRequests,
			rebuilds: tally.rebuilds,
			divergences: tally.divergences,
			hungRequests: tally.hungRequests,
			silentSockets: tally.silentSockets,
			socketsOpenAfterDisconnect: tally.socketsOpenAfterDisconnect,
			clientErrors: Object.fromEntries(
				[...tally.errors].sort((a, b) => b[1] - a[1])
			),
		};
	}
}
