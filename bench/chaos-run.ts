/**
 * One chaos run in one storage mode (SPEC §11, issue 8). Two local deployments (A and B), each
 * behind a loopback proxy whose URL the clients know (primary, secondary). Scripted visitors and
 * agents chat, half over sockets and half over HTTP, while the run evicts Durable Objects (the
 * local debug route), kill -9s a whole deployment and restarts it, and switches the clients
 * between primary and secondary by blacking a proxy out. Then it stops the faults, lets every
 * client settle, ends every chat, waits for the transcripts in D1 and checks everything
 * (chaos-check.ts).
 */
import WebSocket from "ws";
import { LiveChatClient } from "../client/index.ts";
import { addFindings, checkChat, noFindings } from "./chaos-check.ts";
import { Faults } from "./chaos-faults.ts";
import { AGENT, Fleet, prepareSite } from "./chaos-fleet.ts";
import { Recorder, SITE } from "./chaos-recorder.ts";
import { Settling } from "./chaos-settle.ts";
import {
	between,
	clientState,
	forEachLimit,
	readAdminToken,
	retry,
	sleep,
	within,
} from "./chaos-util.ts";
import { chatFetch, socketOpener, TRANSPORT } from "./chaos-wire.ts";
import type { Side } from "./chaos-check.ts";
import type {
	ChaosFigures,
	ChaosOptions,
	ChatUnderTest,
} from "./chaos-recorder.ts";

export type { ChaosFigures, ChaosOptions } from "./chaos-recorder.ts";

const LONG_POLL_SECONDS = 4;
const SETTLE_MS = 120_000;
const PERSIST_MS = 120_000;
/** Past this, a send or poll still running after the faults stopped is left behind (and reported). */
const WIND_DOWN_MS = 90_000;

export async function runChaos(options: ChaosOptions): Promise<ChaosFigures> {
	const run = new ChaosRun(options);
	try {
		return await run.execute();
	} finally {
		await run.shutDown();
	}
}

class ChaosRun {
	private readonly log: (line: string) => void;
	private readonly recorder: Recorder;
	private readonly fleet: Fleet;
	private adminToken = "";
	private agentToken = "";

	constructor(private readonly options: ChaosOptions) {
		this.log =
			options.log ??
			((line) => console.log(`[chaos ${options.chatState}] ${line}`));
		this.recorder = new Recorder(options);
		this.fleet = new Fleet(options, this.recorder);
	}

	private get chats(): ChatUnderTest[] {
		return this.recorder.chats;
	}

	async execute(): Promise<ChaosFigures> {
		this.log(
			`starting deployments A (:${this.fleet.deployments[0].port}) and B (:${this.fleet.deployments[1].port}), their output in ${this.fleet.deployments[0].logFile} and ${this.fleet.deployments[1].logFile}`
		);
		await Promise.all(this.fleet.deployments.map((d) => d.start()));
		this.adminToken = readAdminToken();
		await Promise.all(
			this.fleet.deployments.map((d) => prepareSite(d, this.adminToken))
		);
		await this.fleet.listen();
		this.agentToken = (
			await LiveChatClient.agentLogin({
				baseUrls: [this.fleet.deployments[0].url],
				siteId: SITE,
				email: AGENT.email,
				password: AGENT.password,
			})
		).token;

		this.log(
			`opening ${this.options.chats} chats (visitor and agent each; half over sockets)`
		);
		for (let i = 0; i < this.options.chats; i += 10) {
			await Promise.all(
				Array.from({ length: Math.min(10, this.options.chats - i) }, (_, j) =>
					this.openChat(i + j)
				)
			);
		}

		const until = Date.now() + this.options.seconds * 1000;
		this.log(`chatting under faults for ${this.options.seconds} s`);
		const loops = this.chats.flatMap((chat) =>
			(["visitor", "agent"] as const).flatMap((side) => [
				{ chat, side, what: "send", done: this.chatter(chat, side, until) },
				...(chat.socket
					? []
					: [
							{
								chat,
								side,
								what: "poll",
								done: this.pollLoop(chat, side, until),
							},
						]),
			])
		);
		const progress = setInterval(
			() => this.log(this.recorder.progressLine()),
			15_000
		);
		await new Faults(this.recorder, this.fleet, this.adminToken).run(until);
		clearInterval(progress);
		this.log(`faults over: ${this.recorder.progressLine()}`);

		// Everyone onto A: B's proxy stays dark from here on, so the end of each chat happens in one place.
		for (const d of this.fleet.deployments) if (!d.up) await d.start();
		this.fleet.setDark(1, "final switch: everyone onto A");
		for (const chat of this.chats)
			for (const client of Object.values(chat.clients)) client.disconnect();
		const finished = new Set<(typeof loops)[number]>();
		await within(
			Promise.all(
				loops.map((loop) => loop.done.then(() => finished.add(loop)))
			),
			WIND_DOWN_MS,
			""
		).catch(() => undefined);
		for (const loop of loops.filter((l) => !finished.has(l))) {
			this.recorder.stuck.add(loop.chat);
			this.recorder.note(
				loop.chat,
				loop.side,
				`client state: ${clientState(loop.chat.clients[loop.side])}`
			);
			this.recorder.note(
				loop.chat,
				loop.side,
				`its ${loop.what} loop is still running ${WIND_DOWN_MS / 1000} s after the faults stopped`
			);
			this.log(
				`chat ${loop.chat.id}: the ${loop.side}'s ${loop.what} loop is still running ${WIND_DOWN_MS / 1000} s after the faults stopped`
			);
		}
		this.recorder.tally.socketsOpenAfterDisconnect = [
			...this.recorder.openSockets,
		].filter((ws) => ws.readyState === WebSocket.OPEN).length;

		this.log("settling: flushing outboxes and syncing both sides");
		const settleMs = this.options.settleMs ?? SETTLE_MS;
		const settling = new Settling(this.recorder, this.fleet, this.agentToken);
		let unsettled = await settling.settle(settleMs);
		this.log(
			`ending ${this.chats.length} chats${unsettled.length > 0 ? ` (${unsettled.length} not settled)` : ""}`
		);
		await forEachLimit(this.chats, 10, (chat) => settling.end(chat));
		unsettled = await settling.settle(settleMs / 2);

		this.log(
			"reading the server's copies and waiting for the transcripts in D1"
		);
		const outcomes = await settling.outcomes(
			this.options.persistMs ?? PERSIST_MS
		);
		const findings = noFindings();
		for (const outcome of outcomes) addFindings(findings, checkChat(outcome));
		const figures = this.recorder.figures(
			findings,
			outcomes,
			unsettled.length,
			this.recorder.stuck.size
		);
		if (
			findings.problems.length > 0 ||
			unsettled.length > 0 ||
			this.recorder.stuck.size > 0
		)
			figures.tracesFile = this.recorder.writeTraces(findings, [
				...unsettled,
				...this.recorder.stuck,
			]);
		return figures;
	}

	async shutDown(): Promise<void> {
		for (const chat of this.chats)
			for (const client of Object.values(chat.clients)) client.disconnect();
		await this.fleet.close();
	}

	private async openChat(index: number): Promise<void> {
		const chat: ChatUnderTest = {
			index,
			id: "",
			socket: index % 2 === 0,
			clients: {} as Record<Side, LiveChatClient>,
			sent: { visitor: [], agent: [] },
			resolved: new Set(),
			endedOn: new Set(),
			trace: [],
		};
		const base = (side: Side) => ({
			...TRANSPORT,
			baseUrls: this.fleet.proxies.map((p) => p.url),
			siteId: SITE,
			fetch: chatFetch(this.recorder, this.fleet, chat, side),
			openSocket: chat.socket
				? socketOpener(this.recorder, this.fleet, chat, side)
				: undefined,
		});
		const visitor = await retry(() =>
			LiveChatClient.startChat({
				...base("visitor"),
				visitor: { name: `Visitor ${index}` },
			})
		);
		chat.id = visitor.chatId;
		chat.clients = {
			visitor,
			agent: new LiveChatClient({
				...base("agent"),
				chatId: visitor.chatId,
				token: this.agentToken,
			}),
		};
		this.chats.push(chat);
		// The agent takes the chat (SPEC §7's accept) and says something at once.
		await retry(() => chat.clients.agent.accept());
		await retry(() => this.send(chat, "agent"));
		if (chat.socket)
			await Promise.all([
				chat.clients.visitor.connect(),
				chat.clients.agent.connect(),
			]);
	}

	private async send(chat: ChatUnderTest, side: Side): Promise<void> {
		const id = crypto.randomUUID();
		const content = `chat ${chat.index} ${side} #${chat.sent[side].length + 1}`;
		chat.sent[side].push(id);
		this.recorder.note(chat, side, `send ${id} "${content}"`);
		await chat.clients[side].send(content, id);
		chat.resolved.add(id);
		this.recorder.note(chat, side, `send ${id} resolved`);
	}

	/** A message every 1 to 3 s, at random, until the faults stop. */
	private async chatter(
		chat: ChatUnderTest,
		side: Side,
		until: number
	): Promise<void> {
		for (;;) {
			await sleep(Math.min(between(1000, 3000), until - Date.now()));
			if (Date.now() >= until) return;
			try {
				await this.send(chat, side);
			} catch (error) {
				this.recorder.clientError(chat, side, "send", error);
			}
		}
	}

	/** HTTP-only chats: long-poll rounds, as the widget does where sockets are blocked. */
	private async pollLoop(
		chat: ChatUnderTest,
		side: Side,
		until: number
	): Promise<void> {
		while (Date.now() < until) {
			try {
				await chat.clients[side].poll(LONG_POLL_SECONDS);
			} catch (error) {
				this.recorder.clientError(chat, side, "poll", error);
				await sleep(500);
			}
		}
	}
}
