/**
 * SPEC §11 "Scale": visitor → agent delivery and memory per chat at 100, 500, 1,000 and 2,000
 * concurrent chats, in both storage modes, against the WebSocket echo at the same count. Each count
 * gets fresh deployments, stopped afterwards, so that the memory figure is that count's alone.
 */
import { summarize } from "./http-load.ts";
import { deploy, log, SECONDS, startEcho } from "./setup.ts";
import { chatPairs, echoPairs, openDelivery } from "./websocket-load.ts";
import { residentBytes, workerProcess } from "./worker-process.ts";
import type { ScaleSeries } from "./scale-chart.ts";
import type { LoadSocket, Pair } from "./websocket-load.ts";

/** `BENCH_SCALE_COUNTS=20,40` for a quick look. */
export const SCALE_COUNTS = (
	process.env.BENCH_SCALE_COUNTS ?? "100,500,1000,2000"
)
	.split(",")
	.map(Number);
/** Opened before the memory baseline is read, so that loading the code and the first objects is not charged to the chats. */
const WARM_CHATS = 10;
const PORTS: Record<ScaleSeries, number> = {
	echo: 18810,
	durable: 18811,
	memory: 18812,
};

type Deployment = { url: string; stop(): Promise<void> };

/** One series at one count: the chats opened, and the process's resident memory before them. */
async function open(
	d: Deployment,
	series: ScaleSeries,
	chats: number,
	sockets: LoadSocket[]
) {
	// The warm chats take the first bench agent (or echo objects of their own); the measured ones the agents after it.
	// Straight to the Worker's process, past wrangler dev's proxy (bench/worker-process.ts), for the echo as for the chats.
	const { url } = await workerProcess(PORTS[series]);
	const pairs = (count: number, warm: boolean) =>
		series === "echo"
			? echoPairs(url, count, sockets, warm ? "warm" : "chat")
			: chatPairs(url, count, sockets, warm ? 0 : 1);
	await pairs(WARM_CHATS, true);
	await new Promise((r) => setTimeout(r, 1000));
	const before = await residentBytes(PORTS[series]);
	return { pairs: await pairs(chats, false), before };
}

/** The echo and a deployment per mode, started side by side; if one fails, the others are stopped. */
async function startAll(
	chats: number
): Promise<Record<ScaleSeries, Deployment>> {
	const started = await Promise.allSettled([
		startEcho(PORTS.echo),
		deploy(PORTS.durable, `scale-durable-${chats}`, "durable"),
		deploy(PORTS.memory, `scale-memory-${chats}`, "memory"),
	]);
	const [echo, durable, memory] = started.map((r) =>
		r.status === "fulfilled" ? r.value : undefined
	);
	if (echo && durable && memory) return { echo, durable, memory };
	await Promise.all([echo, durable, memory].map((d) => d?.stop()));
	throw (started.find((r) => r.status === "rejected") as PromiseRejectedResult)
		.reason;
}

async function atCount(chats: number) {
	const began = performance.now();
	const seconds = () => ((performance.now() - began) / 1000).toFixed(0);
	const deployments = await startAll(chats);
	const sockets: LoadSocket[] = [];
	try {
		log(
			`scale: started in ${seconds()} s; opening ${chats} chats in each mode and ${chats} echo sockets`
		);
		const [echo, durable, memory] = await Promise.all(
			(["echo", "durable", "memory"] as const).map((s) =>
				open(deployments[s], s, chats, sockets)
			)
		);
		const opened = { echo: echo!, durable: durable!, memory: memory! };
		const measure = async (pairs: Pair[]) => {
			// Rooms idle for ~10 s hibernate: waking them is a start-up cost, not the steady state.
			await openDelivery(pairs, 1, 2);
			return summarize([await openDelivery(pairs, 1, SECONDS)]);
		};
		log(
			`scale: opened at ${seconds()} s; ${chats} chats, one message per chat per second: echo, durable, memory`
		);
		const load = {
			echo: await measure(opened.echo.pairs),
			durable: await measure(opened.durable.pairs),
			memory: await measure(opened.memory.pairs),
		};
		await new Promise((r) => setTimeout(r, 1000));
		const after = {
			echo: await residentBytes(PORTS.echo),
			durable: await residentBytes(PORTS.durable),
			memory: await residentBytes(PORTS.memory),
		};
		const perChat = (s: ScaleSeries) => (after[s] - opened[s].before) / chats;
		return {
			chats,
			series: {
				echo: { ...load.echo, bytesPerChat: perChat("echo") },
				durable: { ...load.durable, bytesPerChat: perChat("durable") },
				memory: { ...load.memory, bytesPerChat: perChat("memory") },
			},
		};
	} finally {
		for (const socket of sockets) socket.close();
		await Promise.all(Object.values(deployments).map((d) => d.stop()));
	}
}

/**
 * Every count of SCALE_COUNTS, one after another. A count that fails (a local workerd that restarts
 * under the load, say) is reported as failed with its reason, and the counts after it still run.
 */
export async function scale() {
	const counts = [];
	const failed: { chats: number; reason: string }[] = [];
	for (const chats of SCALE_COUNTS) {
		try {
			counts.push(await atCount(chats));
		} catch (err) {
			const reason = err instanceof Error ? err.message : String(err);
			log(`scale: ${chats} chats failed: ${reason}`);
			failed.push({ chats, reason: reason.split("\n")[0]!.slice(0, 200) });
		}
	}
	return { counts, failed };
}
