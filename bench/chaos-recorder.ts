/**
 * What the chaos run knows and keeps: its options, the chats under test, the tally of what
 * happened, and each chat's trace (written out for the chats with problems).
 */
import { writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { brief, errorKind } from "./chaos-util.ts";
import type { LiveChatClient } from "../client/index.ts";
import type { ChatOutcome, Findings, Side } from "./chaos-check.ts";
import type WebSocket from "ws";

export interface ChaosOptions {
	chatState: "durable" | "memory";
	/** How long the faults last. */
	seconds: number;
	chats: number;
	/** The two deployments' ports. */
	ports: [number, number];
	/** A fresh folder for the two deployments' state. */
	workDir: string;
	/** Where the traces of chats with problems go (a JSON file); the system's temp folder by default. */
	tracesDir?: string;
	/** How long the clients get to agree after the faults, and the transcripts to reach D1 after the ends. */
	settleMs?: number;
	persistMs?: number;
	log?: (line: string) => void;
}

export interface ChatUnderTest {
	index: number;
	id: string;
	socket: boolean;
	clients: Record<Side, LiveChatClient>;
	/** Ids each side sent, in order, and the ones whose send() resolved. */
	sent: Record<Side, string[]>;
	resolved: Set<string>;
	/** Deployments that answered an end call of this chat. */
	endedOn: Set<string>;
	trace: string[];
}

export interface ChaosFigures extends Findings {
	chatState: "durable" | "memory";
	seconds: number;
	chats: number;
	socketChats: number;
	messagesAccepted: number;
	/** Still in an outbox after the settling: never accepted, so not counted as lost, but reported. */
	unsent: number;
	/** Chats whose clients had not converged when the settling time was up. */
	unsettled: number;
	/** Chats with a client call (send, poll, flush, end) that had not come back a long while after the faults stopped. */
	stuck: number;
	evictions: number;
	crashes: number;
	switches: number;
	/** code 1 answers and `rebuild` frames: the server asked for a rebuild. */
	rebuildRequests: number;
	/** `/rebuild` calls and `rebuild` frames: the clients uploaded. */
	rebuilds: number;
	/** Answers and frames naming diverged streams (SPEC §3's chains): split brains found. */
	divergences: number;
	/** HTTP requests still unsettled 5 s after their own timeout should have ended them. */
	hungRequests: number;
	/** Sockets the harness closed because the far side went silent (no pong for 15 s). */
	silentSockets: number;
	/** Sockets still open after every client's disconnect() (and the chatter stopped). */
	socketsOpenAfterDisconnect: number;
	clientErrors: Record<string, number>;
	/** Where the traces of the chats with problems were written, if any had. */
	tracesFile?: string;
}

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
		errors: new Map<string, number>(),
	};
	readonly openSockets = new Set<WebSocket>();
	/** Chats with a client call that never came back: their traces are kept whatever the checks say. */
	readonly stuck = new Set<ChatUnderTest>();
	private readonly events: string[] = [];

	constructor(private readonly options: ChaosOptions) {}

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
		const { evictions, crashes, switches, rebuilds } = this.tally;
		return `${accepted} sends accepted, ${errors} client errors, ${evictions} evictions, ${crashes} crashes, ${switches} switches, ${rebuilds} rebuild uploads`;
	}

	/** A file of this run beside the traces: named by mode and start time, so runs never overwrite each other. */
	outputFile(what: string, extension: string): string {
		const stamp = new Date(this.started).toISOString().replace(/[:.]/g, "-");
		return join(
			this.options.tracesDir ?? tmpdir(),
			`elc-chaos-${what}-${this.options.chatState}-${stamp}.${extension}`
		);
	}

	writeTraces(findings: Findings, unsettled: ChatUnderTest[]): string {
		const troubled = new Set([
			...unsettled.map((c) => c.id),
			...findings.problems.map((p) => /^chat (\S+):/.exec(p)?.[1]),
		]);
		const file = this.outputFile("traces", "json");
		const chats = this.chats
			.filter((c) => troubled.has(c.id))
			.map((c) => ({
				chatId: c.id,
				index: c.index,
				socket: c.socket,
				problems: findings.problems.filter((p) =>
					p.startsWith(`chat ${c.id}:`)
				),
				sent: c.sent,
				resolved: [...c.resolved],
				endedOn: [...c.endedOn],
				visitorCopy: c.clients.visitor.messages.map(brief),
				agentCopy: c.clients.agent.messages.map(brief),
				trace: c.trace,
			}));
		writeFileSync(
			file,
			JSON.stringify({ events: this.events, chats }, null, 1)
		);
		return file;
	}

	private elapsed(): string {
		return ((Date.now() - this.started) / 1000).toFixed(2).padStart(7);
	}

	event(line: string): void {
		this.events.push(`${this.elapsed()} ${line}`);
		for (const chat of this.chats) this.note(chat, undefined, `** ${line}`);
	}

	note(chat: ChatUnderTest, side: Side | undefined, line: string): void {
		if (chat.trace.length >= TRACE_LIMIT)
			chat.trace.splice(0, TRACE_LIMIT / 2, "(older lines dropped)");
		chat.trace.push(`${this.elapsed()} ${side ?? "harness"}: ${line}`);
	}

	figures(
		findings: Findings,
		outcomes: ChatOutcome[],
		unsettled: number,
		stuck: number
	): ChaosFigures {
		const unsent = this.chats.reduce(
			(n, chat) =>
				n +
				chat.clients.visitor.pending.length +
				chat.clients.agent.pending.length,
			0
		);
		const { tally } = this;
		return {
			chatState: this.options.chatState,
			seconds: this.options.seconds,
			chats: this.chats.length,
			socketChats: this.chats.filter((c) => c.socket).length,
			messagesAccepted: outcomes.reduce((n, o) => n + o.accepted.size, 0),
			unsent,
			unsettled,
			stuck,
			...findings,
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
