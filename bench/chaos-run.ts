/**
 * One chaos run in one storage mode (SPEC §11, §17). Two local deployments (A and B), each behind a
 * loopback proxy whose URL the clients know (primary, secondary). Agent consoles (AgentClient) are
 * online in auto mode and take the chats as the dispatcher routes them; scripted visitors and the
 * agents the chats go to chat, half over sockets and half over HTTP, while the run evicts rooms and
 * the site's dispatcher (the local debug routes), kill -9s a whole deployment and restarts it,
 * switches the clients between primary and secondary by blacking a proxy out, and has agents
 * transfer chats to one another. Half the chats start before the faults, half while they run. Then
 * it stops the faults, lets every client and console settle, checks the routing (chaos-routing.ts),
 * ends every chat, checks it again, waits for the transcripts in D1 and checks every message
 * (chaos-check.ts) and every chat's owners over time (chaos-owners.ts).
 */
import WebSocket from "ws";
import { LiveChatClient } from "../client/index.ts";
import { Chatter } from "./chaos-chatter.ts";
import { addFindings, checkChat, noFindings } from "./chaos-check.ts";
import { chaosAgents, Consoles, SUPERVISOR } from "./chaos-consoles.ts";
import { Faults } from "./chaos-faults.ts";
import { Fleet, prepareSite } from "./chaos-fleet.ts";
import { addOwnerFindings, noOwnerFindings } from "./chaos-owners.ts";
import { Recorder, SITE } from "./chaos-recorder.ts";
import { RoutingCheck } from "./chaos-routing.ts";
import { localStateOpener } from "./chaos-sealed.ts";
import { Settling } from "./chaos-settle.ts";
import { forEachLimit, readAdminToken } from "./chaos-util.ts";
import type {
	ChaosFigures,
	ChaosOptions,
	ChatUnderTest,
} from "./chaos-recorder.ts";

export type { ChaosFigures, ChaosOptions } from "./chaos-recorder.ts";

const SETTLE_MS = 120_000;
const PERSIST_MS = 120_000;

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
	private readonly consoles: Consoles;
	private readonly chatter: Chatter;
	private adminToken = "";
	private supervisorToken = "";

	constructor(private readonly options: ChaosOptions) {
		this.log =
			options.log ??
			((line) => console.log(`[chaos ${options.chatState}] ${line}`));
		this.recorder = new Recorder(options);
		this.fleet = new Fleet(options, this.recorder);
		this.consoles = new Consoles(
			this.recorder,
			this.fleet,
			chaosAgents(options.agents, options.maxChats)
		);
		this.chatter = new Chatter(
			options,
			this.recorder,
			this.fleet,
			this.consoles,
			this.log
		);
	}

	private get chats(): ChatUnderTest[] {
		return this.recorder.chats;
	}

	async execute(): Promise<ChaosFigures> {
		const { options, fleet, recorder } = this;
		this.log(
			`starting deployments A (:${fleet.deployments[0].port}) and B (:${fleet.deployments[1].port}), their output in ${fleet.deployments[0].logFile} and ${fleet.deployments[1].logFile}`
		);
		await Promise.all(fleet.deployments.map((d) => d.start()));
		this.adminToken = readAdminToken();
		await Promise.all(
			fleet.deployments.map((d) =>
				prepareSite(d, this.adminToken, [...this.consoles.agents, SUPERVISOR])
			)
		);
		await fleet.listen();
		this.supervisorToken = (
			await LiveChatClient.agentLogin({
				baseUrls: [fleet.deployments[0].url],
				siteId: SITE,
				email: SUPERVISOR.email,
				password: SUPERVISOR.password,
			})
		).token;
		this.log(
			`bringing ${options.agents} agent consoles online (auto routing, maxChats ${options.maxChats})`
		);
		await this.consoles.open();

		const early = Math.ceil(options.chats / 2);
		this.log(
			`opening ${early} chats (the other ${options.chats - early} open under the faults); the consoles take them as they are routed`
		);
		for (let i = 0; i < early; i += 10)
			await Promise.all(
				Array.from({ length: Math.min(10, early - i) }, (_, j) =>
					this.chatter.openChat(i + j)
				)
			);

		const until = Date.now() + options.seconds * 1000;
		this.log(`chatting under faults for ${options.seconds} s`);
		for (const chat of this.chats) this.chatter.startLoops(chat, until);
		const progress = setInterval(
			() => this.log(recorder.progressLine()),
			15_000
		);
		await Promise.all([
			new Faults(recorder, fleet, this.adminToken).run(until),
			this.consoles.transfers(until),
			this.chatter.openLater(early, until),
		]);
		clearInterval(progress);
		this.log(`faults over: ${recorder.progressLine()}`);

		// Everyone onto A: B's proxy stays dark from here on, so the end of each chat happens in one place.
		for (const d of fleet.deployments) if (!d.up) await d.start();
		fleet.setDark(1, "final switch: everyone onto A");
		for (const chat of this.chats)
			for (const client of [
				chat.clients.visitor,
				...chat.agentClients.values(),
			])
				client.disconnect();
		this.consoles.disconnectChats();
		await this.chatter.windDown();
		// A console given a chat meanwhile connected its client: that one too.
		this.consoles.disconnectChats();
		recorder.tally.socketsOpenAfterDisconnect = [
			...recorder.openSockets,
		].filter((ws) => ws.readyState === WebSocket.OPEN).length;

		const settleMs = options.settleMs ?? SETTLE_MS;
		const settling = new Settling(recorder, fleet, this.supervisorToken);
		const routing = new RoutingCheck(
			recorder,
			fleet,
			this.consoles,
			this.supervisorToken,
			localStateOpener()
		);
		this.log("settling: flushing outboxes and syncing both sides");
		await settling.settle(settleMs);
		this.log(
			"routing: every chat with one agent, the consoles, the dispatcher's lists and capacities right"
		);
		const owners = noOwnerFindings();
		addOwnerFindings(owners, await routing.settle("before the ends", settleMs));
		// The agent side whose copy is checked: the client of the agent the room names.
		for (const chat of this.chats) {
			const truth = routing.truth.get(chat.id);
			const owner = truth?.agentIds.length === 1 ? truth.agentIds[0]! : "";
			chat.clients.agent = chat.agentClients.get(owner) ?? chat.clients.agent;
		}
		let unsettled = await settling.settle(settleMs);
		this.log(
			`ending ${this.chats.length} chats${unsettled.length > 0 ? ` (${unsettled.length} not settled)` : ""}`
		);
		await forEachLimit(this.chats, 10, (chat) => settling.end(chat));
		unsettled = await settling.settle(settleMs / 2);
		this.log("routing after the ends: every console empty, every agent free");
		addOwnerFindings(owners, await routing.settle("after the ends", settleMs));
		recorder.tally.socketsOpenAfterDisconnect += this.consoles.close();

		this.log(
			"reading the server's copies, the owners' history, and waiting for the transcripts in D1"
		);
		const outcomes = await settling.outcomes(options.persistMs ?? PERSIST_MS);
		const findings = noFindings();
		for (const outcome of outcomes) addFindings(findings, checkChat(outcome));
		const { found, history } = await routing.history();
		addOwnerFindings(owners, found);
		const figures = recorder.figures(
			findings,
			owners,
			outcomes,
			unsettled.length,
			recorder.stuck.size
		);
		if (
			figures.problems.length > 0 ||
			unsettled.length > 0 ||
			recorder.stuck.size > 0
		)
			figures.tracesFile = recorder.writeTraces(
				figures.problems,
				[...unsettled, ...recorder.stuck],
				history
			);
		return figures;
	}

	async shutDown(): Promise<void> {
		for (const chat of this.chats)
			for (const client of [
				chat.clients.visitor,
				...chat.agentClients.values(),
			])
				client.disconnect();
		this.consoles.close();
		await this.fleet.close();
	}
}
