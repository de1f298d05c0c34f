/**
 * CPU profiles of the two hot paths (issue 12): a durable local deployment with wrangler dev's
 * DevTools inspector on a known port, the V8 sampling profiler over it (bench/profile-session.ts)
 * while closed-loop HTTP sends run, and again while 500 chats deliver over their sockets.
 * `npx tsx bench/profile.ts` prints both; `npm run bench` puts them in RESULTS.md. Loopback only.
 */
import { cpSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { startLocalDeployment } from "../scripts/local-deployment.ts";
import { closedLoop, summarize } from "./http-load.ts";
import { profileWhile } from "./profile-session.ts";
import { sourcePlaces } from "./profile-sources.ts";
import {
	benchSite,
	CONCURRENCY,
	deploymentOptions,
	log,
	sender,
	startChat,
	stateRoot,
	WS_CHATS,
} from "./setup.ts";
import { chatPairs, openDelivery } from "./websocket-load.ts";
import type { LoadResult } from "./http-load.ts";
import type { CpuProfile, Frame, PathProfile } from "./profile-session.ts";
import type { LoadSocket } from "./websocket-load.ts";

const PORT = 18820;
const INSPECTOR_PORT = 18821;
/** At most 20 s of load (issue 12): the profile needs samples, not a long run. */
export const PROFILE_SECONDS = Math.min(
	20,
	Number(process.env.BENCH_PROFILE_SECONDS ?? 10)
);

const profiledDeployment = (state: string) =>
	startLocalDeployment({
		...deploymentOptions(PORT, state, "durable"),
		inspectorPort: INSPECTOR_PORT,
	});

/** `load` run under the profiler, reduced to its top frames; `path` names the raw profile a saved run keeps. */
async function profiled(
	path: "send" | "delivery",
	load: () => Promise<LoadResult>
): Promise<PathProfile> {
	log(`profile: ${PROFILE_SECONDS} s of the ${path} path`);
	const { load: result, ...reduced } = await profileWhile(
		INSPECTOR_PORT,
		load,
		sourcePlaces,
		saver(path)
	);
	return {
		seconds: PROFILE_SECONDS,
		throughput: summarize([result]).throughput,
		...reduced,
	};
}

/** The HTTP send path: CONCURRENCY chats sending one message at a time. */
export async function sendProfile(): Promise<PathProfile> {
	const durable = await profiledDeployment("profile-durable");
	try {
		await benchSite(durable.url);
		// Chats started before the profile, which is of sends only.
		const senders = await Promise.all(
			Array.from({ length: CONCURRENCY }, async () => {
				const started = await startChat(durable.url);
				return sender(durable.url, started.chatId, started.token);
			})
		);
		const loop = async (i: number) => senders[i]!;
		log("profile: warming up");
		await closedLoop(CONCURRENCY, 2, loop);
		return await profiled("send", () =>
			closedLoop(CONCURRENCY, PROFILE_SECONDS, loop)
		);
	} finally {
		await durable.stop();
	}
}

/** The WebSocket delivery path as the WebSocket figure loads it: WS_CHATS chats, one message per chat per second. */
export async function deliveryProfile(): Promise<PathProfile> {
	const durable = await profiledDeployment("profile-delivery");
	const sockets: LoadSocket[] = [];
	try {
		const pairs = await chatPairs(durable.url, WS_CHATS, sockets);
		log("profile: warming up the sockets");
		await openDelivery(pairs, 2, 2);
		return await profiled("delivery", () =>
			openDelivery(pairs, 1, PROFILE_SECONDS)
		);
	} finally {
		for (const socket of sockets) socket.close();
		await durable.stop();
	}
}

/** The raw profile and the bundle beside it, for a closer look (BENCH_PROFILE_SAVE=<folder>). */
function saver(name: string) {
	const folder = process.env.BENCH_PROFILE_SAVE;
	if (!folder) return undefined;
	return (profile: CpuProfile, bundleUrl: string | undefined) => {
		mkdirSync(folder, { recursive: true });
		writeFileSync(join(folder, `${name}.cpuprofile`), JSON.stringify(profile));
		if (bundleUrl)
			cpSync(new URL(".", bundleUrl), join(folder, "bundle"), {
				recursive: true,
			});
		log(`profile: saved in ${folder}`);
	};
}

const table = (frames: Frame[]) => [
	"| % of samples | function | where |",
	"|---|---|---|",
	...frames.map(
		(f) => `| ${f.percent.toFixed(1)} | \`${f.name}\` | ${f.place} |`
	),
];

const share = (p: PathProfile, name: string) =>
	p.self.find((f) => f.name === name)?.percent ?? 0;

/** A profile's section of RESULTS.md: "Send path profile" or "Delivery path profile". */
export function profileLines(
	p: PathProfile,
	path: "send" | "delivery"
): string[] {
	const load =
		path === "send"
			? `${p.seconds} s of closed-loop sends (${CONCURRENCY} loops, ${p.throughput.toFixed(0)} sends/s while profiled, ${p.samples} samples)`
			: `${p.seconds} s of the WebSocket figure's load (${WS_CHATS} chats, one message per chat per second, ${p.throughput.toFixed(0)} deliveries/s while profiled, ${p.samples} samples)`;
	return [
		path === "send" ? "## Send path profile" : "## Delivery path profile",
		"",
		`V8's sampling profiler (every 200 µs) over wrangler dev's inspector, in the isolate that runs the Worker and the rooms (durable mode), during ${load}. \`npx tsx bench/profile.ts\` prints it alone. Places are our sources where the bundle's source map names them.`,
		"",
		"Top by self time (idle included, so the shares are of wall time):",
		"",
		...table(p.self),
		"",
		"Top by total time within our code (src/, durable-objects/):",
		"",
		...table(p.total),
		"",
		...(path === "delivery"
			? [
					`SQLite's \`exec\` is ${share(p, "exec").toFixed(1)} % of the samples: locally, workerd commits each write inside \`exec\` on the thread that runs every room (WAL, an \`fsync\` per commit; seen with strace and perf), so every other room's frames wait while one room's write reaches the disk. A message is pushed to the chat's other sockets before its own write starts (SPEC §3), and the room lets those frames leave before it writes (room-core.ts \`commit\`), but the other rooms' writes still stand in line on the same thread.`,
					"",
				]
			: []),
	];
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
	try {
		console.log(profileLines(await sendProfile(), "send").join("\n"));
		console.log(profileLines(await deliveryProfile(), "delivery").join("\n"));
	} finally {
		rmSync(stateRoot, { recursive: true, force: true });
	}
}
