/**
 * `npm run bench` (SPEC §11). Every figure is measured against a baseline taken in the same run on
 * the same machine: a bare Durable Object echo over the same transport (HTTP through wrangler dev).
 * Writes bench/RESULTS.md.
 */
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { httpSend, idleChatMemory, rebuild } from "./http-figures.ts";
import { describeCommit } from "./provenance.ts";
import { routing, web, websocket } from "./realtime-figures.ts";
import { resultLines, widgetLines } from "./report.ts";
import { stateRoot } from "./setup.ts";

const root = fileURLToPath(new URL("..", import.meta.url));
const ONLY = process.env.BENCH_ONLY; // "send", "rebuild", "websocket", "memory", "routing" or "web", for quick looks; RESULTS.md is written only by a full run

async function main() {
	const commit = describeCommit();
	if (ONLY === "send") return console.log(await httpSend());
	if (ONLY === "rebuild") return console.log(await rebuild());
	if (ONLY === "websocket") return console.log(await websocket());
	if (ONLY === "memory") return console.log(await idleChatMemory());
	if (ONLY === "routing") return console.log(await routing());
	if (ONLY === "web") return console.log(widgetLines(await web()).join("\n"));
	const http = await httpSend();
	const rb = await rebuild();
	const ws = await websocket();
	const idle = await idleChatMemory();
	const route = await routing();
	const widget = await web();
	const lines = resultLines({ http, rb, ws, idle, route, widget }, commit);
	writeFileSync(join(root, "bench/RESULTS.md"), lines.join("\n"));
	console.log(lines.join("\n"));
}

try {
	await main();
} finally {
	rmSync(stateRoot, { recursive: true, force: true });
}
