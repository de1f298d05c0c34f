/**
 * `npm run chaos` (SPEC §11): the chaos run in both storage modes, one after the other, 100 chats
 * and 10 minutes of faults each by default. Writes bench/CHAOS.md; exits non-zero when a message
 * was lost, doubled or out of order, the copies differ, or a transcript is short or missing.
 *
 *   npm run chaos -- --seconds 180 --chats 100 --modes durable,memory
 *   CHAOS_SECONDS=180 npm run chaos
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { MUST_BE_ZERO } from "./chaos-check.ts";
import { runChaos } from "./chaos-run.ts";
import { describeCommit } from "./provenance.ts";
import type { ChaosFigures } from "./chaos-run.ts";

const root = fileURLToPath(new URL("..", import.meta.url));
const { values: args } = parseArgs({
	options: {
		seconds: { type: "string" },
		chats: { type: "string" },
		modes: { type: "string" },
	},
});
const seconds = Number(args.seconds ?? process.env.CHAOS_SECONDS ?? 600);
const chats = Number(args.chats ?? process.env.CHAOS_CHATS ?? 100);
const modes = (args.modes ?? "durable,memory").split(",") as (
	"durable" | "memory"
)[];
if (
	!(seconds > 0) ||
	!(chats > 0) ||
	modes.some((m) => m !== "durable" && m !== "memory")
) {
	console.error(
		"usage: npm run chaos -- [--seconds N] [--chats N] [--modes durable,memory]"
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
				ports: [19787, 19788],
				workDir: join(workRoot, chatState),
			})
		);
		const figures = results.at(-1)!;
		console.log(
			`[chaos ${chatState}] ${MUST_BE_ZERO.map((k) => `${k} ${figures[k]}`).join(", ")}${figures.tracesFile ? `; traces in ${figures.tracesFile}` : ""}`
		);
	}
} finally {
	rmSync(workRoot, { recursive: true, force: true });
}

const report = renderReport(results);
writeFileSync(join(root, "bench/CHAOS.md"), report);
console.log(report);
// Exit now: a client call that never came back (reported as stuck) must not keep the process alive.
process.exit(results.some((f) => MUST_BE_ZERO.some((k) => f[k] > 0)) ? 1 : 0);

function renderReport(runs: ChaosFigures[]): string {
	const cpus = os.cpus();
	const row = (label: string, value: (f: ChaosFigures) => string | number) =>
		`| ${label} | ${runs.map((f) => value(f)).join(" | ")} |`;
	const errorTypes = [
		...new Set(runs.flatMap((f) => Object.keys(f.clientErrors))),
	].sort();
	const passed = (f: ChaosFigures) => MUST_BE_ZERO.every((k) => f[k] === 0);
	return [
		"# Chaos run",
		"",
		`Run by \`npm run chaos\` on ${new Date().toISOString().slice(0, 10)}, commit ${describeCommit()}.`,
		`Machine: ${cpus.length} × ${cpus[0]?.model ?? "unknown CPU"}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}, local workerd through wrangler dev.`,
		"",
		"Two local deployments, A and B (`scripts/start.mjs` twice, separate state, the same secrets), each behind a loopback TCP proxy;",
		"every client knows the two proxies' URLs as `baseUrls: [primary, secondary]` (timeout 4 s, fail-back after 3 s). Per chat a",
		"visitor (`LiveChatClient.startChat`) and an agent (its own site's agent, raised limits); half the chats over WebSockets",
		"(`connect()`), half over HTTP only (send and long-poll); each side sends a message every 1 to 3 s. Meanwhile, at random:",
		"",
		"- **evictions**: a few a second, the room of a random chat on the deployment its client talks to is aborted (`ctx.abort()` through the local-only debug route);",
		"- **crashes**: every 20 to 40 s, `kill -9` of one deployment's every process (alternating), restarted at once;",
		"- **switches**: every 3 to 8 s, the primary URL, the secondary URL or neither goes dark (its proxy resets every connection, sockets included, and every new one), so the clients fail over and back.",
		"",
		"Then the faults stop, the secondary URL stays dark (everyone onto A), every client flushes and syncs, every chat is ended, and the",
		"run waits for the transcripts in D1 (`GET /v1/sites/{site}/history/chats/{chat}`). It checks every message a client had accepted",
		"(its `send()` resolved, or it reached its sender's copy later) against the visitor's, the agent's and A's copy (`GET …/messages`",
		"at 0/0): present once, in the order its sender sent it; the three copies identical, each stream numbered 1..n; every ended chat",
		"persisted on each deployment that took its end, with every message of the copies, and no transcript anywhere short.",
		"",
		`| | ${runs.map((f) => f.chatState).join(" | ")} |`,
		`|---|${runs.map(() => "---").join("|")}|`,
		row("verdict", (f) => (passed(f) ? "**pass**" : "**FAIL**")),
		row("faults for", (f) => `${f.seconds} s`),
		row("chats (over sockets)", (f) => `${f.chats} (${f.socketChats})`),
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
					"Errors the clients saw, by type (a send or poll that failed is retried by the SDK's outbox and the next round; these are not losses):",
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
