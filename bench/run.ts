/**
 * `npm run bench` (SPEC §11). Every figure is measured against a baseline taken in the same run on
 * the same machine: a bare Durable Object echo over the same transport (HTTP through wrangler dev).
 * Writes bench/RESULTS.md.
 */
import { execSync, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { LiveChatClient } from "../client/index.ts";
import { startLocalDeployment } from "../scripts/local-deployment.ts";
import { closedLoop, percentile, summarize } from "./http-load.ts";
import { routingLoad } from "./routing-load.ts";
import {
	LOADER_FILE,
	LOADER_LIMIT_GZ,
	webSizes,
	webTimings,
	WINDOW_LIMIT_GZ,
} from "./web-figures.ts";
import {
	chatSocket,
	closedDelivery,
	LoadSocket,
	openDelivery,
} from "./websocket-load.ts";
import type { ReturnResult, StartChatResult } from "../src/protocol/chat.ts";
import type { LoadResult } from "./http-load.ts";
import type { Pair } from "./websocket-load.ts";

const root = fileURLToPath(new URL("..", import.meta.url));
const stateRoot = mkdtempSync(join(os.tmpdir(), "elc-bench-"));
const ADMIN = "local-admin-token";
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 16);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 6);
const ROUNDS = 2;
const REBUILD_MESSAGES = 10_000;
const WS_CHATS = Number(process.env.BENCH_WS_CHATS ?? 500);
const IDLE_CHATS = 1000;
const ONLY = process.env.BENCH_ONLY; // "send", "rebuild", "websocket", "memory", "routing" or "web", for quick looks; RESULTS.md is written only by a full run
const ROUTING_AGENTS = 50;
const ROUTING_PER_SECOND = Number(process.env.BENCH_ROUTING_RATE ?? 200);

const log = (message: string) => console.log(`[bench] ${message}`);
const json = (body: unknown) => JSON.stringify(body);

async function startEcho(port: number) {
	const child = spawn(
		process.execPath,
		[
			join(root, "node_modules/wrangler/bin/wrangler.js"),
			"dev",
			"-c",
			"bench/echo/wrangler.toml",
			"--port",
			String(port),
			"--ip",
			"127.0.0.1",
			"--inspector-port",
			"0",
			"--persist-to",
			join(stateRoot, "echo"),
			"--show-interactive-dev-session=false",
		],
		{
			cwd: root,
			detached: true,
			stdio: ["ignore", "pipe", "pipe"],
			env: {
				...process.env,
				WRANGLER_SEND_METRICS: "false",
				CLOUDFLARE_CF_FETCH_ENABLED: "false",
			},
		}
	);
	await new Promise<void>((resolve, reject) => {
		let out = "";
		const timer = setTimeout(
			() => reject(new Error(`echo worker did not start:\n${out}`)),
			60_000
		);
		const onData = (d: Buffer) => {
			out += d;
			if (out.includes("Ready on")) {
				clearTimeout(timer);
				resolve();
			}
		};
		child.stdout!.on("data", onData);
		child.stderr!.on("data", onData);
	});
	return {
		url: `http://127.0.0.1:${port}`,
		stop: async () => {
			const exited = new Promise((r) => child.once("exit", r));
			process.kill(-child.pid!, "SIGTERM");
			await exited;
		},
	};
}

async function admin(base: string, path: string, body: unknown) {
	const res = await fetch(`${base}/v1/admin${path}`, {
		method: path.endsWith("/agents") ? "POST" : "PUT",
		headers: {
			Authorization: `Bearer ${ADMIN}`,
			"Content-Type": "application/json",
		},
		body: json(body),
	});
	if (!res.ok && res.status !== 409)
		throw new Error(`admin ${path}: ${res.status} ${await res.text()}`);
}

async function benchSite(base: string) {
	return (await benchAgents(base, 1))[0]!;
}

/** The benchmark's site, and agents' tokens: an agent holds at most 100 chats (its maxChats), so many chats need several agents. */
async function benchAgents(base: string, count: number): Promise<string[]> {
	// Every chat of the benchmark comes from one address: the per-address limits are raised for it (SPEC §6).
	const limits = {
		messagesPerMinutePerVisitor: 10_000,
		chatStartsPerMinutePerAddress: 100_000,
		socketUpgradesPerMinutePerAddress: 100_000,
		framesPerSecondPerSocket: 1000,
	};
	// Manual routing: each chat is the agent's that accepts it (in auto mode an accept makes the agent online, and new chats would be routed to it).
	await admin(base, "/sites/bench", {
		name: "Benchmark",
		limits,
		routing: { mode: "manual", sticky: false },
	});
	const tokens: string[] = [];
	for (let i = 0; i < count; i++) {
		const email =
			i === 0 ? "bench-agent@example.com" : `bench-agent-${i}@example.com`;
		await admin(base, "/sites/bench/agents", {
			email,
			name: `Bench Agent ${i}`,
			password: "bench-password",
			maxChats: 100,
		});
		tokens.push(
			(
				await LiveChatClient.agentLogin({
					baseUrls: [base],
					siteId: "bench",
					email,
					password: "bench-password",
				})
			).token
		);
	}
	return tokens;
}

async function startChat(base: string): Promise<StartChatResult> {
	const res = await fetch(`${base}/v1/sites/bench/chats`, {
		method: "POST",
		headers: { "Content-Type": "application/json" },
		body: json({ visitor: { name: "Load" } }),
	});
	return (await res.json()) as StartChatResult;
}

/** The agent takes the chat (SPEC §7), as it must before it acts in it; answers the chat state that lists the agent. */
async function acceptChat(
	base: string,
	chatId: string,
	agentToken: string
): Promise<string> {
	const res = await fetch(`${base}/v1/sites/bench/chats/${chatId}/accept`, {
		method: "POST",
		headers: { Authorization: `Bearer ${agentToken}` },
	});
	if (!res.ok) throw new Error(`accept: ${res.status} ${await res.text()}`);
	return ((await res.json()) as { chatState: string }).chatState;
}

/** A raw send with the offsets a client would carry: what one chat costs the service per message. */
function sender(base: string, chatId: string, token: string) {
	const offsets = { v: 0, a: 0 };
	return async () => {
		const res = await fetch(`${base}/v1/sites/bench/chats/${chatId}/messages`, {
			method: "POST",
			headers: {
				Authorization: `Bearer ${token}`,
				"Content-Type": "application/json",
				"X-Visitor-Data-Offset": String(offsets.v),
				"X-Agent-Data-Offset": String(offsets.a),
			},
			body: json({
				id: crypto.randomUUID(),
				content: "Hello, I have a question about my order.",
			}),
		});
		const body = (await res.json()) as ReturnResult;
		if (body.code !== 0) return false;
		offsets.v = body.visitorDataOffset;
		offsets.a = body.agentDataOffset;
		return true;
	};
}

async function httpSend() {
	const echo = await startEcho(18800);
	const durable = await startLocalDeployment({
		port: 18801,
		stateDir: join(stateRoot, "send-durable"),
		chatState: "durable",
	});
	const memory = await startLocalDeployment({
		port: 18803,
		stateDir: join(stateRoot, "send-memory"),
		chatState: "memory",
	});
	try {
		await Promise.all([benchSite(durable.url), benchSite(memory.url)]);
		const body = json({
			id: crypto.randomUUID(),
			content: "Hello, I have a question about my order.",
		});
		const echoLoop = async (i: number) => async () => {
			const res = await fetch(`${echo.url}/chat-${i}`, {
				method: "POST",
				headers: { "Content-Type": "application/json" },
				body,
			});
			await res.text();
			return res.ok;
		};
		const chatLoop = (base: string) => async () => {
			const started = await startChat(base);
			return sender(base, started.chatId, started.token);
		};
		const targets = {
			baseline: echoLoop,
			durable: chatLoop(durable.url),
			memory: chatLoop(memory.url),
		};
		log("warming up");
		for (const loop of Object.values(targets))
			await closedLoop(CONCURRENCY, 2, loop);
		const results: Record<keyof typeof targets, LoadResult[]> = {
			baseline: [],
			durable: [],
			memory: [],
		};
		for (let round = 1; round <= ROUNDS; round++) {
			for (const [name, loop] of Object.entries(targets) as [
				keyof typeof targets,
				typeof echoLoop,
			][]) {
				log(`round ${round}: ${name}`);
				results[name].push(await closedLoop(CONCURRENCY, SECONDS, loop));
			}
		}
		return {
			baseline: summarize(results.baseline),
			send: summarize(results.durable),
			memory: summarize(results.memory),
		};
	} finally {
		await Promise.all([echo.stop(), durable.stop(), memory.stop()]);
	}
}

async function rebuild() {
	const options = {
		port: 18802,
		stateDir: join(stateRoot, "rebuild"),
		chatState: "memory" as const,
	};
	let deployment = await startLocalDeployment(options);
	try {
		const agentToken = await benchSite(deployment.url);
		const started = await startChat(deployment.url);
		await acceptChat(deployment.url, started.chatId, agentToken);
		log(`building a ${REBUILD_MESSAGES}-message chat`);
		// Half from the visitor, half from the agent, as a real conversation has both streams.
		const visitorLoop = sender(deployment.url, started.chatId, started.token);
		const agentLoop = sender(deployment.url, started.chatId, agentToken);
		await Promise.all(
			[visitorLoop, agentLoop].map(async (loop) => {
				for (let i = 0; i < REBUILD_MESSAGES / 2; i++)
					if (!(await loop()))
						throw new Error("send refused while building the chat");
			})
		);

		const rebuildCalls: number[] = [];
		const counting: typeof fetch = async (input, init) => {
			if (String(input).endsWith("/rebuild"))
				rebuildCalls.push(
					(JSON.parse(String(init?.body)) as { messages: unknown[] }).messages
						.length
				);
			return fetch(input, init);
		};
		const transport = {
			baseUrls: [deployment.url],
			fetch: counting,
			timeoutMs: 60_000,
		};
		const agent = new LiveChatClient({
			...transport,
			siteId: "bench",
			chatId: started.chatId,
			token: agentToken,
		});
		const visitor = new LiveChatClient({
			...transport,
			siteId: "bench",
			chatId: started.chatId,
			token: started.token,
			chatState: started.chatState,
		});
		await Promise.all([agent.poll(), visitor.poll()]);
		if (agent.messages.length < REBUILD_MESSAGES)
			throw new Error(`agent holds only ${agent.messages.length} messages`);
		// The visitor says ten more things the agent's copy has not seen: the server will lack exactly those.
		for (let i = 0; i < 10; i++) await visitor.send(`after ${i}`);

		log("evicting: restarting the memory-mode deployment");
		await deployment.stop();
		deployment = await startLocalDeployment(options);

		rebuildCalls.length = 0;
		let t = performance.now();
		await agent.poll();
		const fullMs = performance.now() - t;
		const fullRequests = rebuildCalls.length;
		const fullMessages = rebuildCalls.reduce((a, b) => a + b, 0);

		rebuildCalls.length = 0;
		t = performance.now();
		await visitor.send("one more");
		const incrementalMs = performance.now() - t;
		return {
			fullMs,
			fullRequests,
			fullMessages,
			incrementalMs,
			incrementalRequests: rebuildCalls.length,
			incrementalMessages: rebuildCalls.reduce((a, b) => a + b, 0),
		};
	} finally {
		await deployment.stop();
	}
}

/** `count` things made `batch` at a time: opening hundreds of sockets at once only measures the queue. */
async function inBatches<T>(
	count: number,
	batch: number,
	make: (i: number) => Promise<T>
): Promise<T[]> {
	const made: T[] = [];
	for (let i = 0; i < count; i += batch)
		made.push(
			...(await Promise.all(
				Array.from({ length: Math.min(batch, count - i) }, (_, j) =>
					make(i + j)
				)
			))
		);
	return made;
}

/** `WS_CHATS` chats on a deployment, each with a visitor and an agent socket that said hello. */
async function chatPairs(url: string, sockets: LoadSocket[]): Promise<Pair[]> {
	const agentTokens = await benchAgents(url, Math.ceil(WS_CHATS / 100));
	return inBatches(WS_CHATS, 25, async (i) => {
		const agentToken = agentTokens[i % agentTokens.length]!;
		const chat = await startChat(url);
		const chatState = await acceptChat(url, chat.chatId, agentToken);
		const [visitor, agent] = await Promise.all([
			chatSocket(url, "bench", chat.chatId, chat.token, chatState),
			chatSocket(url, "bench", chat.chatId, agentToken),
		]);
		sockets.push(visitor, agent);
		return { from: visitor, to: agent };
	});
}

async function websocket() {
	const echo = await startEcho(18804);
	const durable = await startLocalDeployment({
		port: 18805,
		stateDir: join(stateRoot, "ws-durable"),
		chatState: "durable",
	});
	const memory = await startLocalDeployment({
		port: 18807,
		stateDir: join(stateRoot, "ws-memory"),
		chatState: "memory",
	});
	const sockets: LoadSocket[] = [];
	try {
		log(
			`opening ${WS_CHATS} chats with a visitor and an agent socket each, and ${WS_CHATS} echo sockets`
		);
		const durableChats = await chatPairs(durable.url, sockets);
		const memoryChats = await chatPairs(memory.url, sockets);
		const echoes = await inBatches(WS_CHATS, 25, async (i) => {
			const socket = await LoadSocket.open(
				`${echo.url.replace(/^http/, "ws")}/ws/chat-${i}`
			);
			sockets.push(socket);
			return { from: socket, to: socket } satisfies Pair;
		});
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

/** Resident memory of the workerd serving `port` (the deployment's one process). */
/** SPEC §11: 200 chat starts a second across 50 agents online, auto mode; assignment p99 against 100 ms. */
async function routing() {
	const echo = await startEcho(18806);
	const d = await startLocalDeployment({
		port: 18805,
		stateDir: join(stateRoot, "routing"),
		chatState: "durable",
	});
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
			const email = `agent-${i}@routing.example`;
			await admin(d.url, "/sites/routing/agents", {
				email,
				name: `Agent ${i}`,
				password: "bench-password",
				maxChats: 50,
			});
			tokens.push(
				(
					await LiveChatClient.agentLogin({
						baseUrls: [d.url],
						siteId: "routing",
						email,
						password: "bench-password",
					})
				).token
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

function residentBytes(port: number): number {
	const pid = execSync(`pgrep -f "entry=127.0.0.1:${port}"`)
		.toString()
		.trim()
		.split("\n")[0];
	const status = execSync(`cat /proc/${pid}/status`).toString();
	return Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]) * 1024;
}

/** Memory mode: how much a chat that is open but quiet costs the process holding it. */
async function idleChatMemory() {
	const port = 18806;
	const deployment = await startLocalDeployment({
		port,
		stateDir: join(stateRoot, "memory"),
		chatState: "memory",
	});
	try {
		await benchSite(deployment.url);
		const fill = async () => {
			const chat = await startChat(deployment.url);
			const loop = sender(deployment.url, chat.chatId, chat.token);
			for (let m = 0; m < 5; m++) await loop();
		};
		await inBatches(50, 25, fill); // warm: code, caches, the first rooms
		await new Promise((r) => setTimeout(r, 1000));
		const before = residentBytes(port);
		log(`opening ${IDLE_CHATS} idle chats of 5 messages`);
		await inBatches(IDLE_CHATS, 25, fill);
		await new Promise((r) => setTimeout(r, 1000));
		return { bytesPerChat: (residentBytes(port) - before) / IDLE_CHATS };
	} finally {
		await deployment.stop();
	}
}

/** SPEC §11's widget sizes, and the widget in a real browser against a deployment of its own (bench/web-figures.ts). */
async function web() {
	log("web: building the bundles and measuring them");
	const sizes = webSizes();
	const deployment = await startLocalDeployment({
		port: 18809,
		stateDir: join(stateRoot, "web"),
		chatState: "durable",
	});
	try {
		log("web: time to launcher and agent-to-widget delivery in Chromium");
		return { sizes, ...(await webTimings(deployment.url)) };
	} finally {
		await deployment.stop();
	}
}

const fmt = (n: number, digits = 1) => n.toFixed(digits);
const kb = (bytes: number) => `${fmt(bytes / 1024, 1)} KB`;

function widgetLines(w: Awaited<ReturnType<typeof web>>): string[] {
	const { loader, window } = w.sizes;
	return [
		"## Widget",
		"",
		`Every script public/ serves after \`node scripts/build-web.mjs\`, raw and gzipped (node:zlib, default level). SPEC §11: the loader (\`${LOADER_FILE}\`, on every page view) at most ${kb(LOADER_LIMIT_GZ)} gzipped, the chat window at most ${kb(WINDOW_LIMIT_GZ)} gzipped.`,
		"",
		"| script | raw | gzipped |",
		"|---|---|---|",
		...w.sizes.scripts.map(
			(s) => `| ${s.file} | ${kb(s.raw)} | ${kb(s.gzip)} |`
		),
		"",
		loader
			? `- Loader \`${loader.file}\`: **${kb(loader.gzip)}** gzipped, ${kb(loader.raw)} raw (target ≤ ${kb(LOADER_LIMIT_GZ)}: ${verdict(loader.gzip <= LOADER_LIMIT_GZ)}).`
			: `- Loader: **missing**, no \`${LOADER_FILE}\` in public/.`,
		window
			? `- Chat window \`${window.file}\`: **${kb(window.gzip)}** gzipped, ${kb(window.raw)} raw (target ≤ ${kb(WINDOW_LIMIT_GZ)}: ${verdict(window.gzip <= WINDOW_LIMIT_GZ)}).`
			: `- Chat window: no separate script; the whole widget is the loader, so the loader's target applies to all of it.`,
		`- Time to launcher on the demo page: **${fmt(w.launcher.p50, 0)} ms** at the median, ${fmt(w.launcher.max, 0)} ms at worst, over ${w.launcher.samples} loads in headless Chromium, each a first visit (a fresh context, nothing cached); from navigation start to the first frame with the launcher laid out.`,
		`- Agent to widget: **${fmt(w.delivery.p50, 1)} ms** at the median, ${fmt(w.delivery.p95, 1)} ms p95, over ${w.delivery.samples} messages one after another: from the agent's send leaving (HTTP, from Node) to the text in the widget's log in the page (a MutationObserver; both clocks on this machine).`,
		"",
	];
}
const verdict = (ok: boolean) => (ok ? "met" : "**missed**");

async function main() {
	const commit = execSync("git rev-parse --short HEAD", { cwd: root })
		.toString()
		.trim();
	const dirty = execSync("git status --porcelain --untracked-files=no", {
		cwd: root,
	})
		.toString()
		.trim()
		? " (with uncommitted changes)"
		: "";
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
	const wsP99Ratio = ws.chatOpen.p99 / ws.echoOpen.p99;
	const wsSaturatedRatio = ws.delivery.p99 / ws.baseline.p99;
	const throughputRatio = http.send.throughput / http.baseline.throughput;
	const p99Ratio = http.send.p99 / http.baseline.p99;
	const lines = [
		"# Benchmark results",
		"",
		`Measured by \`npm run bench\` on ${new Date().toISOString().slice(0, 10)}, commit ${commit}${dirty}.`,
		`Machine: ${os.cpus().length} × ${os.cpus()[0]?.model ?? "unknown CPU"}, ${fmt(os.totalmem() / 2 ** 30, 0)} GiB, Node ${process.version}, local workerd through wrangler dev.`,
		"Load generator and server share the machine; absolute numbers are noisy, the ratios to the baseline measured in the same run are what count.",
		"",
		"## HTTP send",
		"",
		`${CONCURRENCY} concurrent chats, each sending one message at a time (closed loop), ${ROUNDS} rounds of ${SECONDS} s alternating with the baseline. The product's default is durable mode (every message in SQLite before the answer); memory mode is shown for comparison.`,
		"Baseline: a Worker forwarding the same JSON body to a Durable Object that returns it at once, one object per loop.",
		"",
		"| | requests/s | p50 ms | p99 ms | errors |",
		"|---|---|---|---|---|",
		`| baseline DO echo | ${fmt(http.baseline.throughput)} | ${fmt(http.baseline.p50, 2)} | ${fmt(http.baseline.p99, 2)} | ${http.baseline.errors} |`,
		`| chat send, durable | ${fmt(http.send.throughput)} | ${fmt(http.send.p50, 2)} | ${fmt(http.send.p99, 2)} | ${http.send.errors} |`,
		`| chat send, memory | ${fmt(http.memory.throughput)} | ${fmt(http.memory.p50, 2)} | ${fmt(http.memory.p99, 2)} | ${http.memory.errors} |`,
		"",
		`- Throughput ratio: **${fmt(throughputRatio * 100)} %** of the baseline (target ≥ 80 %: ${verdict(throughputRatio >= 0.8)}).`,
		`- p99 ratio: **${fmt(p99Ratio, 2)}×** the baseline (target ≤ 1.5×: ${verdict(p99Ratio <= 1.5)}).`,
		`- Memory mode, same run: ${fmt((http.memory.throughput / http.baseline.throughput) * 100)} % of the baseline's throughput, p99 ${fmt(http.memory.p99 / http.baseline.p99, 2)}×.`,
		"",
		...(throughputRatio >= 0.8
			? []
			: [
					`Why the throughput target is missed: locally, workerd runs the Worker and every Durable Object on one thread, which shares the two cores with the load generator, so throughput is CPU per request. The echo does almost nothing; a send verifies a JWT (HMAC), validates its headers and body, signs the message (HMAC), appends it and, in durable mode, commits it to SQLite before answering. Memory mode (no SQLite) reached ${fmt((http.memory.throughput / http.baseline.throughput) * 100)} % in this run; over the runs of 2026-11-22 the gap between the two modes went from 2 to 16 points, so the commit is a part of the cost, not all of it. Stubbing out both HMACs in a one-off run gained about 4 points; the rest is the per-request JavaScript of routing, validation and JSON. On Cloudflare the Worker and the Durable Object run in separate isolates, usually on separate machines, so this local ratio is a pessimistic proxy.`,
				]),
		"",
		"## Rebuild",
		"",
		`A ${REBUILD_MESSAGES}-message chat (half visitor, half agent) in memory mode; the deployment is restarted, so the room has nothing (eviction).`,
		"",
		`- Full rebuild after eviction: **${fmt(rb.fullMs / 1000, 2)} s** for ${rb.fullMessages} messages in ${rb.fullRequests} requests of ≤ 500, from the first call answered code 1 to the retried call answered (target ≤ 2 s: ${verdict(rb.fullMs <= 2000)}).`,
		`- Incremental rebuild of the ${rb.incrementalMessages} messages the server lacked: **${rb.incrementalRequests} round trip** of rebuild, ${fmt(rb.incrementalMs, 1)} ms for the whole send (code 1, rebuild, retry) (target: one round trip: ${verdict(rb.incrementalRequests === 1 && rb.incrementalMessages === 10)}).`,
		"",
		"",
		"## WebSocket",
		"",
		`${WS_CHATS} concurrent chats per storage mode, each with a visitor socket and an agent socket (hibernation API): the visitor sends, the time is until its agent's socket has the message. Baseline: ${WS_CHATS} sockets to a Durable Object that echoes each frame at once (also hibernation API): the same frame, the same transport, the time until it is back. ${ROUNDS} rounds of ${SECONDS} s of each, alternating.`,
		"",
		"At one message per chat per second (open loop, random phase: people chatting):",
		"",
		"| | messages/s | p50 ms | p99 ms | errors |",
		"|---|---|---|---|---|",
		`| baseline WebSocket echo | ${fmt(ws.echoOpen.throughput)} | ${fmt(ws.echoOpen.p50, 2)} | ${fmt(ws.echoOpen.p99, 2)} | ${ws.echoOpen.errors} |`,
		`| visitor → agent delivery, durable | ${fmt(ws.chatOpen.throughput)} | ${fmt(ws.chatOpen.p50, 2)} | ${fmt(ws.chatOpen.p99, 2)} | ${ws.chatOpen.errors} |`,
		`| visitor → agent delivery, memory | ${fmt(ws.memoryOpen.throughput)} | ${fmt(ws.memoryOpen.p50, 2)} | ${fmt(ws.memoryOpen.p99, 2)} | ${ws.memoryOpen.errors} |`,
		"",
		`- Delivery p99, durable (the default): **${fmt(wsP99Ratio, 2)}×** the echo's p99 (target ≤ 2×: ${verdict(wsP99Ratio <= 2)}).`,
		`- Delivery p99, memory mode: **${fmt(ws.memoryOpen.p99 / ws.echoOpen.p99, 2)}×** the echo's p99 (target ≤ 2×: ${verdict(ws.memoryOpen.p99 / ws.echoOpen.p99 <= 2)}). The difference between the two rows is the SQLite commit each accepted message waits for in durable mode (the output gate), on this machine's local disk.`,
		"",
		"At saturation (closed loop: each chat sends its next message as soon as the last one arrived):",
		"",
		"| | messages/s | p50 ms | p99 ms | errors |",
		"|---|---|---|---|---|",
		`| baseline WebSocket echo | ${fmt(ws.baseline.throughput)} | ${fmt(ws.baseline.p50, 2)} | ${fmt(ws.baseline.p99, 2)} | ${ws.baseline.errors} |`,
		`| visitor → agent delivery, durable | ${fmt(ws.delivery.throughput)} | ${fmt(ws.delivery.p50, 2)} | ${fmt(ws.delivery.p99, 2)} | ${ws.delivery.errors} |`,
		"",
		`- Messages delivered per second across the ${WS_CHATS} chats: **${fmt(ws.delivery.throughput, 0)}**; the echo turns around ${fmt(ws.baseline.throughput, 0)}.`,
		`- Delivery p99 at saturation: ${fmt(wsSaturatedRatio, 2)}× the echo's. With ${WS_CHATS} loops waiting on one workerd thread, latency there is mostly queueing (about ${WS_CHATS} ÷ throughput), so this ratio follows the throughput ratio: it says what a message costs the room (a frame validated, a mac signed, a SQLite write, an ack and a push) against an echo that costs nearly nothing.`,
		"",
		"## Routing",
		"",
		`${ROUTING_AGENTS} agents online over their console sockets, a site in auto mode; chats started at ${ROUTING_PER_SECOND} a second (open loop), ${ROUNDS} rounds of 4 s after a warm-up. The time is from the start request leaving to the \`assigned\` frame for that chat reaching its agent's console: the start, the room's registration with the dispatcher, the routing decision, the room adding the agent (system message, new chatState, SQLite) and the push. Reference: the DO echo at the same rate, request to answer.`,
		"",
		"| | started | assigned | errors | p50 ms | p99 ms |",
		"|---|---|---|---|---|---|",
		`| DO echo, same rate | | | | ${fmt(route.echoP50, 2)} | ${fmt(route.echoP99, 2)} |`,
		`| chat start → assigned | ${route.starts} | ${route.assigned} | ${route.errors} | ${fmt(route.p50, 2)} | ${fmt(route.p99, 2)} |`,
		`| the same at ${ROUTING_PER_SECOND / 4} a second | ${route.quarter.starts} | ${route.quarter.assigned} | ${route.quarter.errors} | ${fmt(route.quarter.p50, 2)} | ${fmt(route.quarter.p99, 2)} |`,
		"",
		`- Assignment p99: **${fmt(route.p99, 1)} ms** (target ≤ 100 ms: ${verdict(route.p99 <= 100)}); the worse round's figure is shown.`,
		...(route.p99 <= 100
			? []
			: [
					`- Why it is missed: locally every chat start runs on one workerd thread that also serves the rooms, the dispatcher and the queue consumers, sharing two cores with the load generator and 50 console sockets. One start is a rate-limit check, a token and a sealed visitorState, the room's first write (sealed chatState, SQLite), its registration with the dispatcher, the routing decision and the room's second write (a system message signed, chatState and visitorState sealed, SQLite), the \`assigned\` push, and two \`chatQueue.log\` events that each cross two queues into D1, all on that thread. At ${ROUTING_PER_SECOND / 4} a second the same path answers within the figures of the second row; at ${ROUTING_PER_SECOND} a second the thread is saturated and the time is queueing. On Cloudflare the Worker, each room, the dispatcher and the consumers run in separate isolates on separate machines; the dispatcher's own share of a start is its bookkeeping and one call to the room.`,
				]),
		`- Spread over the ${ROUTING_AGENTS} agents in the last round: ${route.perAgent.min} to ${route.perAgent.max} chats each.`,
		"",
		"## Memory",
		"",
		`- Memory mode, bytes per idle chat: **${fmt(idle.bytesPerChat / 1024, 1)} KiB**: growth of the workerd process's resident memory over ${IDLE_CHATS} chats of 5 messages each, no sockets open (includes each Durable Object's isolate-side bookkeeping, not only the chat's data).`,
		"",
		...widgetLines(widget),
	];
	writeFileSync(join(root, "bench/RESULTS.md"), lines.join("\n"));
	console.log(lines.join("\n"));
}

try {
	await main();
} finally {
	rmSync(stateRoot, { recursive: true, force: true });
}
