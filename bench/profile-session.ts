/**
 * A V8 CPU profile of a local deployment's isolate (the Worker and its Durable Objects) taken over
 * wrangler dev's DevTools inspector while a load runs, reduced to its top frames (bench/profile.ts).
 */
import WebSocket from "ws";

const TOP = 12;

export interface CallFrame {
	functionName: string;
	url: string;
	lineNumber: number;
	columnNumber: number;
}
export interface ProfileNode {
	id: number;
	callFrame: CallFrame;
	hitCount?: number;
	children?: number[];
}
export interface CpuProfile {
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

export interface PathProfile {
	seconds: number;
	samples: number;
	/** Of the load while profiled: requests or deliveries a second. */
	throughput: number;
	self: Frame[];
	total: Frame[];
}

/** The profile of `load` running: the inspector at `port`, sampling every 200 µs; the raw profile to `save` when given. */
export async function profileWhile<T>(
	port: number,
	load: () => Promise<T>,
	places: (bundleUrl: string | undefined) => (frame: CallFrame) => {
		place: string;
		ours: boolean;
	},
	save?: (profile: CpuProfile, bundleUrl: string | undefined) => void
): Promise<{ load: T; samples: number; self: Frame[]; total: Frame[] }> {
	const session = await devtools(port);
	try {
		// The debugger only to learn the bundle's name (scriptParsed), off before profiling.
		await session.call("Debugger.enable");
		await session.call("Debugger.disable");
		await session.call("Profiler.enable");
		await session.call("Profiler.setSamplingInterval", { interval: 200 });
		await session.call("Profiler.start");
		const result = await load();
		const { profile } = await session.call<{ profile?: CpuProfile }>(
			"Profiler.stop"
		);
		if (!profile) throw new Error("Profiler.stop answered no profile");
		save?.(profile, session.bundleUrl());
		return {
			load: result,
			...reduceProfile(profile, places(session.bundleUrl())),
		};
	} finally {
		session.close();
	}
}
