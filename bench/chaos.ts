/**
 * `npm run chaos` (SPEC §11, §17): the chaos run in both storage modes, one after the other, 100
 * chats, 20 agents in auto routing and 10 minutes of faults each by default. Writes bench/CHAOS.md;
 * exits non-zero when a message was lost, doubled or out of order, the copies differ, a transcript
 * is short or missing, a chat had two owners, a console or list shows a chat that is not its
 * agent's and live, a capacity is wrong, or a chat was not routed.
 *
 *   npm run chaos -- --seconds 180 --chats 100 --agents 20 --max-chats 10 --modes durable,memory
 *   CHAOS_SECONDS=180 npm run chaos
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { MUST_BE_ZERO } from "./chaos-check.ts";
import { OWNER_MUST_BE_ZERO } from "./chaos-owners.ts";
import { runChaos } from "./chaos-run.ts";
import { describeCommit } from "./provenance.ts";
import type { ChaosFigures } from "./chaos-run.ts";

const root = fileURLToPath(new URL("..", import.meta.url));
const { values: args } = parseArgs({
	options: {
		seconds: { type: "string" },
		chats: { type: "string" },
		agents: { type: "string" },
		"max-chats": { type: "string" },
		modes: { type: "string" },
	},
});
const seconds = Number(args.seconds ?? process.env.CHAOS_SECONDS ?? 600);
const chats = Number(args.chats ?? process.env.CHAOS_CHATS ?? 100);
const agents = Number(args.agents ?? process.env.CHAOS_AGENTS ?? 20);
const maxChats = Number(args["max-chats"] ?? process.env.CHAOS_MAX_CHATS ?? 10);
/** Every count that must be zero for a run to pass: the messages' and the routing's. */
const mustBeZero = [...MUST_BE_ZERO, ...OWNER_MUST_BE_ZERO];
const modes = (args.modes ?? "durable,memory").split(",") as (
	"durable" | "memory"
)[];
if (
	!(seconds > 0) ||
	!(chats > 0) ||
	!(agents >= 2) ||
	!(maxChats >= 2 && maxChats <= 100) ||
	agents * maxChats < chats ||
	modes.some((m) => m !== "durable" && m !== "memory")
) {
	console.error(
		"usage: npm run chaos -- [--seconds N] [--chats N] [--agents N ≥ 2] [--max-chats 2..100, agents × max-chats ≥ chats] [--modes durable,memory]"
	);
	process.exit(2);
}

const workRoot = mkdtempSync(join(os.tmpdir(), "elc-chaos-"));
const results: ChaosFigures[] = [];
try {
	for (const chatState of modes) {
		results.push(
			await runChaos({
				chatState,
				seconds,
				chats,
				agents,
				maxChats,
				ports: [19787, 19788],
				workDir: join(workRoot, chatState),
			})
		);
		const figures = results.at(-1)!;
		console.log(
			`[chaos ${chatState}] ${mustBeZero.map((k) => `${k} ${figures[k]}`).join(", ")}${figures.tracesFile ? `; traces in ${figures.tracesFile}` : ""}`
		);
	}
} finally {
	rmSync(workRoot, { recursive: true, force: true });
}

const report = renderReport(results);
writeFileSync(join(root, "bench/CHAOS.md"), report);
console.log(report);
// Exit now: a client call that never came back (reported as stuck) must not keep the process alive.
process.exit(results.some((f) => mustBeZero.some((k) => f[k] > 0)) ? 1 : 0);

function renderReport(runs: ChaosFigures[]): string {
	const cpus = os.cpus();
	const row = (label: string, value: (f: ChaosFigures) => string | number) =>
		`| ${label} | ${runs.map((f) => value(f)).join(" | ")} |`;
	const errorTypes = [
		...new Set(runs.flatMap((f) => Object.keys(f.clientErrors))),
	].sort();
	const passed = (f: ChaosFigures) => mustBeZero.every((k) => f[k] === 0);
	return [
		"# Chaos run",
		"",
		`Run by \`npm run chaos\` on ${new Date().toISOString().slice(0, 10)}, commit ${describeCommit()}.`,
		`Machine: ${cpus.length} × ${cpus[0]?.model ?? "unknown CPU"}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}, local workerd through wrangler dev.`,
		"",
		"Two local deployments, A and B (`scripts/start.mjs` twice, separate state, the same secrets), each behind a loopback TCP proxy;",
		"every client knows the two proxies' URLs as `baseUrls: [primary, secondary]` (timeout 4 s, fail-back after 3 s). The site routes",
		"automatically (SPEC §7) to its agents, each an `AgentClient` console online through the same two URLs (presence socket, HTTP",
		"heartbeat while none opens). Per chat a visitor (`LiveChatClient.startChat`) says something, which makes the chat routable, and",
		"the console the chat is routed to takes it: that agent's client answers (the console's own chat client). Half the chats start",
		"before the faults, half during the first half of them; half the chats over WebSockets (`connect()`), half over HTTP only (send",
		"and long-poll); each side sends a message every 1 to 3 s. Meanwhile, at random:",
		"",
		"- **evictions**: a few a second, the room of a random chat on the deployment its client talks to is aborted (`ctx.abort()` through the local-only debug route);",
		"- **dispatcher evictions**: every 5 to 15 s, the site's dispatcher on a deployment that is up is aborted the same way (in memory mode it forgets presence, loads and queue, and has them back from the consoles' hellos and the waiting rooms);",
		"- **transfers**: every 2 to 5 s, an agent hands one of its chats to another online agent with room (after its outbox is flushed);",
		"- **crashes**: every 20 to 40 s, `kill -9` of one deployment's every process (alternating), restarted at once;",
		"- **switches**: every 3 to 8 s, the primary URL, the secondary URL or neither goes dark (its proxy resets every connection, sockets included, and every new one), so the clients fail over and back.",
		"",
		"Then the faults stop, the secondary URL stays dark (everyone onto A), every client flushes and syncs, every chat is ended, and the",
		"run waits for the transcripts in D1 (`GET /v1/sites/{site}/history/chats/{chat}`). It checks every message a client had accepted",
		"(its `send()` resolved, or it reached its sender's copy later) against the visitor's, the agent's and A's copy (`GET …/messages`",
		"at 0/0): present once, in the order its sender sent it; the three copies identical, each stream numbered 1..n; every ended chat",
		"persisted on each deployment that took its end, with every message of the copies, and no transcript anywhere short.",
		"",
		"Routing (SPEC §17). Every sealed chatState anyone was handed (answers, `sync`/`state` frames, `assigned` frames, transfer",
		"answers) is kept and opened with the local keys: that is each chat's owner over time, in the room's own word, ordered by",
		"its version. A chat **had two owners** when one state names two agents, when two states of one version name different",
		"agents (a split brain), or when an agent that owned it is, at a later version, neither an owner nor among the agents it",
		"was transferred away from (dropped without a transfer while its console held it); a waiting state must name nobody. After",
		"the faults, and again after every chat is ended, the run reads each chat's room on A as a supervisor (0/0, so the answer",
		"carries its chatState) and compares it, until they agree or the settling time is up, with every console's chats",
		"(`AgentClient.chats`), each agent's `GET …/agents/me/chats`, the Supervise list (`GET …/live-chats`), the queue, and",
		"each agent's `free` in `GET …/agents` (maxChats minus the live chats the rooms give it).",
		"",
		`| | ${runs.map((f) => f.chatState).join(" | ")} |`,
		`|---|${runs.map(() => "---").join("|")}|`,
		row("verdict", (f) => (passed(f) ? "**pass**" : "**FAIL**")),
		row("faults for", (f) => `${f.seconds} s`),
		row("chats (over sockets)", (f) => `${f.chats} (${f.socketChats})`),
		row("agents online (maxChats each)", (f) => `${f.agents} (${f.maxChats})`),
		row("messages accepted", (f) => f.messagesAccepted),
		row("lost", (f) => f.lost),
		row("doubled", (f) => f.doubled),
		row("out of order", (f) => f.outOfOrder),
		row("chats whose copies differ", (f) => f.copiesDiffer),
		row("chats with offset gaps", (f) => f.offsetGaps),
		row("transcripts short", (f) => f.transcriptsShort),
		row("ended chats not persisted", (f) => f.notPersisted),
		row("still in an outbox at the end", (f) => f.unsent),
		row("chats not settled in time", (f) => f.unsettled),
		row("chats with a client call that never came back", (f) => f.stuck),
		row("chats that had two owners at some time", (f) => f.twoOwners),
		row("chats waiting with an owner", (f) => f.waitingOwned),
		row("chats not routed (never given, or still waiting)", (f) => f.notRouted),
		row(
			"stale chats listed (console, dispatcher list, Supervise)",
			(f) => f.staleListed
		),
		row(
			"live chats missing from their agent's console",
			(f) => f.missingFromConsole
		),
		row("agents whose free capacity is wrong", (f) => f.wrongCapacity),
		row("chatStates that did not open", (f) => f.statesUnread),
		row("chats routed to a console", (f) => `${f.routed} of ${f.chats}`),
		row(
			"chats started without the visitor hearing of it, found routed",
			(f) => f.strangers
		),
		row(
			"transfers asked (done / refused / failed)",
			(f) =>
				`${f.transfers.asked} (${f.transfers.done} / ${f.transfers.refused} / ${f.transfers.failed})`
		),
		row("chatStates read for the owners' history", (f) => f.statesSeen),
		row("dispatcher evictions", (f) => f.dispatcherEvictions),
		row("evictions", (f) => f.evictions),
		row("crashes (kill -9)", (f) => f.crashes),
		row("switches", (f) => f.switches),
		row(
			"rebuild requests (code 1, `rebuild` frames)",
			(f) => f.rebuildRequests
		),
		row("rebuilds (`/rebuild` calls, `rebuild` frames)", (f) => f.rebuilds),
		row(
			"divergences found (answers naming `diverged` streams)",
			(f) => f.divergences
		),
		row("HTTP requests hung past their timeout", (f) => f.hungRequests),
		row("silent sockets closed by the client", (f) => f.silentSockets),
		row(
			"sockets still open after `disconnect()`",
			(f) => f.socketsOpenAfterDisconnect
		),
		row("errors seen by clients", (f) =>
			Object.values(f.clientErrors).reduce((a, b) => a + b, 0)
		),
		"",
		...(errorTypes.length === 0
			? []
			: [
					"Errors the clients and consoles saw, by type (a send or poll that failed is retried by the SDK's outbox and the next round; these are not losses):",
					"",
					`| error | ${runs.map((f) => f.chatState).join(" | ")} |`,
					`|---|${runs.map(() => "---").join("|")}|`,
					...errorTypes.map((type) =>
						row(`\`${type}\``, (f) => f.clientErrors[type] ?? 0)
					),
					"",
				]),
		...runs.flatMap((f) =>
			f.problems.length === 0
				? []
				: [
						`Problems in ${f.chatState} mode (${f.problems.length}${f.problems.length > 30 ? ", the first 30" : ""}):`,
						"",
						...f.problems.slice(0, 30).map((p) => `- ${p}`),
						"",
					]
		),
	].join("\n");
}
