/**
 * `npm run bench` (SPEC §11). Every figure is measured against a baseline taken in the same run on
 * the same machine: a bare Durable Object echo over the same transport (HTTP through wrangler dev).
 * Writes bench/RESULTS.md and the chart of the scale figures, bench/scale.svg.
 */
import { rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { httpSend, idleChatMemory, rebuild } from "./http-figures.ts";
import { deliveryProfile, profileLines, sendProfile } from "./profile.ts";
import { describeCommit } from "./provenance.ts";
import { routing, web, websocket } from "./realtime-figures.ts";
import { resultLines, scaleLines, widgetLines } from "./report.ts";
import { scaleSvg } from "./scale-chart.ts";
import { scale } from "./scale-figures.ts";
import { stateRoot } from "./setup.ts";

const root = fileURLToPath(new URL("..", import.meta.url));
// "send", "rebuild", "websocket", "memory", "routing", "web", "scale" or "profile" (`npx tsx bench/run.ts scale`), for quick looks; RESULTS.md and scale.svg are written only by a full run
const ONLY = process.argv[2] ?? process.env.BENCH_ONLY;

async function main() {
	const commit = describeCommit();
	if (ONLY === "send") return console.log(await httpSend());
	if (ONLY === "rebuild") return console.log(await rebuild());
	if (ONLY === "websocket") return console.log(await websocket());
	if (ONLY === "memory") return console.log(await idleChatMemory());
	if (ONLY === "routing") return console.log(await routing());
	if (ONLY === "web") return console.log(widgetLines(await web()).join("\n"));
	if (ONLY === "scale") return lookAtScale(await scale());
	if (ONLY === "profile")
		return console.log(
			profileLines(await deliveryProfile(), "delivery").join("\n")
		);
	const http = await httpSend();
	const profile = await sendProfile();
	const rb = await rebuild();
	const ws = await websocket();
	const delivery = await deliveryProfile();
	const idle = await idleChatMemory();
	const route = await routing();
	const widget = await web();
	const figures = await scale();
	const lines = resultLines(
		{
			http,
			rb,
			ws,
			idle,
			route,
			widget,
			scale: figures,
			profile,
			delivery,
		},
		commit
	);
	writeFileSync(join(root, "bench/RESULTS.md"), lines.join("\n"));
	writeFileSync(join(root, "bench/scale.svg"), scaleSvg(figures.counts));
	console.log(lines.join("\n"));
}

/** A quick look at the scale figures: the table, and the chart in the system's temporary folder. */
function lookAtScale(figures: Awaited<ReturnType<typeof scale>>) {
	const svg = join(os.tmpdir(), "elc-bench-scale.svg");
	writeFileSync(svg, scaleSvg(figures.counts));
	console.log([...scaleLines(figures), `Chart: ${svg}`].join("\n"));
}

try {
	await main();
} finally {
	rmSync(stateRoot, { recursive: true, force: true });
}
