/**
 * What every `npm run bench` measurement stands on: its settings, the deployments and the echo
 * baseline it starts, the benchmark site and its agents, and raw chat calls.
 */
import { spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import os from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { LiveChatClient } from "../client/index.ts";
import { startLocalDeployment } from "../scripts/local-deployment.ts";
import type { ReturnResult, StartChatResult } from "../src/protocol/chat.ts";

const root = fileURLToPath(new URL("..", import.meta.url));
/** Every deployment's state, under one folder that run.ts removes at the end. */
export const stateRoot = mkdtempSync(join(os.tmpdir(), "elc-bench-"));
const ADMIN = "local-admin-token";
export const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 16);
export const SECONDS = Number(process.env.BENCH_SECONDS ?? 6);
export const ROUNDS = 2;
export const REBUILD_MESSAGES = 10_000;
export const WS_CHATS = Number(process.env.BENCH_WS_CHATS ?? 500);
export const IDLE_CHATS = 1000;
export const ROUTING_AGENTS = 50;
export const ROUTING_PER_SECOND = Number(process.env.BENCH_ROUTING_RATE ?? 200);

export const log = (message: string) => console.log(`[bench] ${message}`);
export const json = (body: unknown) => JSON.stringify(body);

/** A local deployment of the product, its state in a folder of its own under stateRoot. */
export const deploymentOptions = (
	port: number,
	state: string,
	chatState: "durable" | "memory"
) => ({ port, stateDir: join(stateRoot, state), chatState });

export const deploy = (
	port: number,
	state: string,
	chatState: "durable" | "memory"
) => startLocalDeployment(deploymentOptions(port, state, chatState));

export async function startEcho(port: number) {
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

export async function admin(base: string, path: string, body: unknown) {
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

/** An agent of the site (created if new), logged in: its token. */
export async function agentToken(
	base: string,
	siteId: string,
	agent: { email: string; name: string; maxChats: number }
): Promise<string> {
	const password = "bench-password";
	await admin(base, `/sites/${siteId}/agents`, { ...agent, password });
	return (
		await LiveChatClient.agentLogin({
			baseUrls: [base],
			siteId,
			email: agent.email,
			password,
		})
	).token;
}

export async function benchSite(base: string) {
	return (await benchAgents(base, 1))[0]!;
}

/** The benchmark's site, and agents' tokens: an agent holds at most 100 chats (its maxChats), so many chats need several agents. */
export async function benchAgents(
	base: string,
	count: number
): Promise<string[]> {
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
		tokens.push(
			await agentToken(base, "bench", {
				email,
				name: `Bench Agent ${i}`,
				maxChats: 100,
			})
		);
	}
	return tokens;
}

export async function startChat(base: string): Promise<StartChatResult> {
	const res = await fetch(`${base}/v1/sites/bench/chats`, {
		method: "POST",
		headers: { "Content-Type": "application/json" },
		body: json({ visitor: { name: "Load" } }),
	});
	return (await res.json()) as StartChatResult;
}

/** The agent takes the chat (SPEC §7), as it must before it acts in it; answers the chat state that lists the agent. */
export async function acceptChat(
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
export function sender(base: string, chatId: string, token: string) {
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

/** `count` things made `batch` at a time: opening hundreds of sockets at once only measures the queue. */
export async function inBatches<T>(
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
