/**
 * A CPU profile of the HTTP send path (issue 12): a durable local deployment with wrangler dev's
 * DevTools inspector on a known port, the V8 sampling profiler started over the Chrome DevTools
 * protocol, closed-loop sends for a few seconds, and the profile reduced to its top frames.
 * `npx tsx bench/profile.ts` prints it; `npm run bench` puts it in RESULTS.md. Loopback only.
 */
import { cpSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import WebSocket from "ws";
import { startLocalDeployment } from "../scripts/local-deployment.ts";
import { closedLoop, summarize } from "./http-load.ts";
import { sourcePlaces } from "./profile-sources.ts";
import {
	benchSite,
	CONCURRENCY,
	deploymentOptions,
	log,
	sender,
	startChat,
	stateRoot,
} from "./setup.ts";

const PORT = 18820;
const INSPECTOR_PORT = 18821;
/** At most 20 s of load (issue 12): the profile needs samples, not a long run. */
export const PROFILE_SECONDS = Math.min(
	20,
	Number(process.env.BENCH_PROFILE_SECONDS ?? 10)
);
const TOP = 12;

interface CallFrame {
	functionName: string;
	url: string;
	lineNumber: number;
	columnNumber: number;
}
interface ProfileNode {
	id: number;
	callFrame: CallFrame;
	hitCount?: number;
	children?: number[];
}
interface CpuProfile {
	nodes: ProfileNode[];
	samples: number[];
}

export interface Frame {
	name: string;
	/** file:line in our sources where the bundle's source map says so, else the bundle's. */
	place: string;
	ours: boolean;
	percent: number;
}
export interface SendProfile {
	seconds: number;
	samples: number;
	throughput: number;
	self: Frame[];
	total: Frame[];
}

/** A DevTools session on the first target the inspector lists (the Worker's isolate, rooms included). */
async function devtools(port: number) {
	const targets = (await (
		await fetch(`http://127.0.0.1:${port}/json`)
	).json()) as { webSocketDebuggerUrl: string; title?: string }[];
	const target = targets[0];
	if (!target) throw new Error("the inspector lists no target");
	const socket = new WebSocket(target.webSocketDebuggerUrl);
	await new Promise((resolve, reject) => {
		socket.once("open", resolve);
		socket.once("error", reject);
	});
	// Far from the ids wrangler's inspector proxy uses for its own calls on the same connection.
	let nextId = 1_000_000;
	const pending = new Map<
		number,
		(answer: { result?: unknown; error?: { message: string } }) => void
	>();
	/** The Worker's bundle, as Debugger.scriptParsed names it: its source map says where frames are. */
	let bundleUrl: string | undefined;
	socket.on("message", (data) => {
		const message = JSON.parse(String(data)) as {
			id?: number;
			method?: string;
			params?: { url?: string; sourceMapURL?: string };
			result?: unknown;
			error?: { message: string };
		};
		const url = message.params?.url;
		if (
			message.method === "Debugger.scriptParsed" &&
			url?.includes("/.wrangler/tmp/")
		)
			bundleUrl = url;
		if (message.id === undefined) return;
		const done = pending.get(message.id);
		pending.delete(message.id);
		done?.(message);
	});
	socket.on("close", (code, reason) => {
		for (const done of pending.values())
			done({ error: { message: `inspector closed (${code} ${reason})` } });
		pending.clear();
	});
	return {
		/** A DevTools call's result; a call unanswered within 30 s fails rather than hanging the bench. */
		call: <T>(method: string, params: object = {}) =>
			new Promise<T>((resolve, reject) => {
				const id = ++nextId;
				const timer = setTimeout(() => {
					pending.delete(id);
					reject(new Error(`inspector: no answer to ${method}`));
				}, 30_000);
				pending.set(id, (answer) => {
					clearTimeout(timer);
					if (answer.error)
						reject(new Error(`${method}: ${answer.error.message}`));
					else resolve(answer.result as T);
				});
				socket.send(JSON.stringify({ id, method, params }));
			}),
		bundleUrl: () => bundleUrl,
		close: () => socket.close(),
	};
}

/** Self and total samples per function (name and place), each sample counted once per function on its stack. */
export function reduceProfile(
	profile: CpuProfile,
	place: (frame: CallFrame) => { place: string; ours: boolean }
): { samples: number; self: Frame[]; total: Frame[] } {
	const byId = new Map(profile.nodes.map((n) => [n.id, n]));
	const parent = new Map<number, number>();
	for (const n of profile.nodes)
		for (const child of n.children ?? []) parent.set(child, n.id);
	const keyOf = new Map<
		number,
		{ key: string; name: string; place: string; ours: boolean }
	>();
	for (const n of profile.nodes) {
		const where = place(n.callFrame);
		const name = n.callFrame.functionName || "(anonymous)";
		keyOf.set(n.id, { key: `${name} ${where.place}`, name, ...where });
	}
	const self = new Map<string, number>();
	const total = new Map<string, number>();
	const idle = new Set(["(idle)", "(program)", "(garbage collector)"]);
	for (const id of profile.samples) {
		const leaf = keyOf.get(id)!;
		self.set(leaf.key, (self.get(leaf.key) ?? 0) + 1);
		const seen = new Set<string>();
		for (let at: number | undefined = id; at !== undefined; at = parent.get(at))
			if (byId.get(at)!.callFrame.url) seen.add(keyOf.get(at)!.key);
		for (const key of seen) total.set(key, (total.get(key) ?? 0) + 1);
	}
	const info = new Map([...keyOf.values()].map((k) => [k.key, k]));
	const samples = profile.samples.length;
	const top = (counts: Map<string, number>, keep: (key: string) => boolean) =>
		[...counts]
			.filter(([key]) => keep(key))
			.sort((a, b) => b[1] - a[1])
			.slice(0, TOP)
			.map(([key, n]) => {
				const { name, place, ours } = info.get(key)!;
				return { name, place, ours, percent: (100 * n) / samples };
			});
	return {
		samples,
		self: top(self, () => true),
		total: top(total, (key) => info.get(key)!.ours && !idle.has(key)),
	};
}

export async function sendProfile(): Promise<SendProfile> {
	const durable = await startLocalDeployment({
		...deploymentOptions(PORT, "profile-durable", "durable"),
		inspectorPort: INSPECTOR_PORT,
	});
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
		const session = await devtools(INSPECTOR_PORT);
		try {
			// The debugger only to learn the bundle's name (scriptParsed), off before profiling.
			await session.call("Debugger.enable");
			await session.call("Debugger.disable");
			await session.call("Profiler.enable");
			await session.call("Profiler.setSamplingInterval", { interval: 200 });
			await session.call("Profiler.start");
			log(`profile: ${PROFILE_SECONDS} s of sends`);
			const load = await closedLoop(CONCURRENCY, PROFILE_SECONDS, loop);
			const { profile } = await session.call<{ profile?: CpuProfile }>(
				"Profiler.stop"
			);
			if (!profile) throw new Error("Profiler.stop answered no profile");
			if (process.env.BENCH_PROFILE_SAVE)
				saveProfile(profile, session.bundleUrl());
			const reduced = reduceProfile(profile, sourcePlaces(session.bundleUrl()));
			return {
				seconds: PROFILE_SECONDS,
				throughput: summarize([load]).throughput,
				...reduced,
			};
		} finally {
			session.close();
		}
	} finally {
		await durable.stop();
	}
}

/** The raw profile and the bundle beside it, for a closer look (BENCH_PROFILE_SAVE=<folder>). */
function saveProfile(profile: CpuProfile, bundleUrl: string | undefined) {
	const folder = process.env.BENCH_PROFILE_SAVE!;
	mkdirSync(folder, { recursive: true });
	writeFileSync(join(folder, "send.cpuprofile"), JSON.stringify(profile));
	if (bundleUrl)
		cpSync(new URL(".", bundleUrl), join(folder, "bundle"), {
			recursive: true,
		});
	log(`profile: saved in ${folder}`);
}

const table = (frames: Frame[]) => [
	"| % of samples | function | where |",
	"|---|---|---|",
	...frames.map(
		(f) => `| ${f.percent.toFixed(1)} | \`${f.name}\` | ${f.place} |`
	),
];

/** The "Send path profile" section of RESULTS.md. */
export function profileLines(p: SendProfile): string[] {
	return [
		"## Send path profile",
		"",
		`V8's sampling profiler (every 200 µs) over wrangler dev's inspector, in the isolate that runs the Worker and the rooms (durable mode), during ${p.seconds} s of closed-loop sends (${CONCURRENCY} loops, ${p.throughput.toFixed(0)} sends/s while profiled, ${p.samples} samples). \`npx tsx bench/profile.ts\` prints it alone. Places are our sources where the bundle's source map names them.`,
		"",
		"Top by self time (idle included, so the shares are of wall time):",
		"",
		...table(p.self),
		"",
		"Top by total time within our code (src/, durable-objects/):",
		"",
		...table(p.total),
		"",
	];
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
	try {
		console.log(profileLines(await sendProfile()).join("\n"));
	} finally {
		rmSync(stateRoot, { recursive: true, force: true });
	}
}
