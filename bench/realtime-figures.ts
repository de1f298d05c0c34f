/**
 * The realtime figures of `npm run bench` (SPEC §11): WebSocket delivery against an echo over the
 * same transport, routing of chat starts to agents online, and the widget in a real browser.
 */
import { percentile, summarize } from "./http-load.ts";
import { routingLoad } from "./routing-load.ts";
import {
	admin,
	agentToken,
	deploy,
	json,
	log,
	ROUNDS,
	ROUTING_AGENTS,
	ROUTING_PER_SECOND,
	SECONDS,
	startEcho,
	WS_CHATS,
} from "./setup.ts";
import { webTimings } from "./web-figures.ts";
import { webSizes } from "./web-sizes.ts";
import {
	chatPairs,
	closedDelivery,
	echoPairs,
	openDelivery,
} from "./websocket-load.ts";
import type { LoadResult } from "./http-load.ts";
import type { LoadSocket, Pair } from "./websocket-load.ts";

export async function websocket() {
	const echo = await startEcho(18804);
	const durable = await deploy(18805, "ws-durable", "durable");
	const memory = await deploy(18807, "ws-memory", "memory");
	const sockets: LoadSocket[] = [];
	try {
		log(
			`opening ${WS_CHATS} chats with a visitor and an agent socket each, and ${WS_CHATS} echo sockets`
		);
		const durableChats = await chatPairs(durable.url, WS_CHATS, sockets);
		const memoryChats = await chatPairs(memory.url, WS_CHATS, sockets);
		const echoes = await echoPairs(echo.url, WS_CHATS, sockets);
		// Each target is warmed right before it is measured: rooms idle for ~10 s hibernate, and waking
		// 500 of them at once (in memory mode: and rebuilding them) is a start-up cost, not the steady state.
		const warm = (pairs: Pair[]) => openDelivery(pairs, 2, 2);
		const runs = {
			echoOpen: [] as LoadResult[],
			durableOpen: [] as LoadResult[],
			memoryOpen: [] as LoadResult[],
			echoClosed: [] as LoadResult[],
			durableClosed: [] as LoadResult[],
		};
		for (let round = 1; round <= ROUNDS; round++) {
			log(
				`round ${round}: one message per chat per second: echo, durable, memory`
			);
			for (const [pairs, into] of [
				[echoes, runs.echoOpen],
				[durableChats, runs.durableOpen],
				[memoryChats, runs.memoryOpen],
			] as const) {
				await warm(pairs);
				into.push(await openDelivery(pairs, 1, SECONDS));
			}
			log(`round ${round}: saturation: echo, durable`);
			for (const [pairs, into] of [
				[echoes, runs.echoClosed],
				[durableChats, runs.durableClosed],
			] as const) {
				await warm(pairs);
				into.push(await closedDelivery(pairs, SECONDS));
			}
		}
		return {
			echoOpen: summarize(runs.echoOpen),
			chatOpen: summarize(runs.durableOpen),
			memoryOpen: summarize(runs.memoryOpen),
			baseline: summarize(runs.echoClosed),
			delivery: summarize(runs.durableClosed),
		};
	} finally {
		for (const socket of sockets) socket.close();
		await Promise.all([echo.stop(), durable.stop(), memory.stop()]);
	}
}

/** SPEC §11: 200 chat starts a second across 50 agents online, auto mode; assignment p99 against 100 ms. */
export async function routing() {
	const echo = await startEcho(18806);
	const d = await deploy(18805, "routing", "durable");
	try {
		const limits = {
			chatStartsPerMinutePerAddress: 100_000,
			socketUpgradesPerMinutePerAddress: 100_000,
		};
		await admin(d.url, "/sites/routing", {
			name: "Routing benchmark",
			routing: { mode: "auto", sticky: false },
			limits,
		});
		const tokens: string[] = [];
		for (let i = 0; i < ROUTING_AGENTS; i++) {
			tokens.push(
				await agentToken(d.url, "routing", {
					email: `agent-${i}@routing.example`,
					name: `Agent ${i}`,
					maxChats: 50,
				})
			);
		}
		log("routing: warming up");
		await routingLoad(d.url, "routing", tokens, 50, 1);
		const rounds: Awaited<ReturnType<typeof routingLoad>>[] = [];
		const echoLatencies: number[] = [];
		for (let round = 1; round <= ROUNDS; round++) {
			log(`round ${round}: routing`);
			rounds.push(
				await routingLoad(d.url, "routing", tokens, ROUTING_PER_SECOND, 4)
			);
			log(`round ${round}: echo at the same rate`);
			echoLatencies.push(...(await openEcho(echo.url, ROUTING_PER_SECOND, 4)));
		}
		echoLatencies.sort((a, b) => a - b);
		// Where it stands at a quarter of the rate: what a slower stream of starts costs, short of saturation.
		log("routing: a quarter of the rate");
		const quarter = await routingLoad(
			d.url,
			"routing",
			tokens,
			ROUTING_PER_SECOND / 4,
			4
		);
		const last = rounds.at(-1)!;
		const p = (q: number) =>
			Math.max(...rounds.map((r) => (q === 50 ? r.p50 : r.p99)));
		return {
			starts: rounds.reduce((n, r) => n + r.starts, 0),
			assigned: rounds.reduce((n, r) => n + r.assigned, 0),
			errors: rounds.reduce((n, r) => n + r.errors, 0),
			p50: p(50),
			p99: p(99),
			perAgent: last.perAgent,
			quarter,
			echoP50: percentile(echoLatencies, 50),
			echoP99: percentile(echoLatencies, 99),
		};
	} finally {
		await Promise.all([echo.stop(), d.stop()]);
	}
}

/** The echo at a steady rate (open loop): each request's time to its answer. */
async function openEcho(
	base: string,
	perSecond: number,
	seconds: number
): Promise<number[]> {
	const latencies: number[] = [];
	const began = performance.now();
	const inFlight: Promise<void>[] = [];
	for (let i = 0; i < perSecond * seconds; i++) {
		const due = began + (i * 1000) / perSecond;
		if (due > performance.now())
			await new Promise((r) => setTimeout(r, due - performance.now()));
		const t = performance.now();
		inFlight.push(
			fetch(`${base}/chat-${i % 50}`, {
				method: "POST",
				headers: { "Content-Type": "application/json" },
				body: json({ visitor: { name: "Load" } }),
			}).then(async (res) => {
				await res.text();
				latencies.push(performance.now() - t);
			})
		);
	}
	await Promise.all(inFlight);
	return latencies;
}

/** SPEC §11's widget sizes, and the widget in a real browser against a deployment of its own (bench/web-sizes.ts, bench/web-figures.ts). */
export async function web() {
	log("web: building the bundles and measuring them");
	const sizes = webSizes();
	const deployment = await deploy(18809, "web", "durable");
	try {
		log("web: time to launcher and agent-to-widget delivery in Chromium");
		return { sizes, ...(await webTimings(deployment.url)) };
	} finally {
		await deployment.stop();
	}
}
