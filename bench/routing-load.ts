/**
 * The routing figure of SPEC §11: chat starts at a steady rate (open loop) on a site in auto mode
 * with 50 agents online over their console sockets; the time of each is from the start request
 * leaving to the `assigned` frame for that chat reaching its agent's console.
 */
import WebSocket from "ws";
import { percentile } from "./http-load.ts";
import type { StartChatResult } from "../src/protocol/chat.ts";

export interface RoutingResult {
	starts: number;
	assigned: number;
	/** Chats routed to each agent: the spread. */
	perAgent: { min: number; max: number };
	p50: number;
	p99: number;
	errors: number;
	seconds: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Logs `agents` agents in (created by `admin`) and opens their consoles: resolves once each has its first snapshot. */
async function consoles(
	base: string,
	site: string,
	tokens: string[],
	onAssigned: (chatId: string, agent: number) => void
): Promise<WebSocket[]> {
	return Promise.all(
		tokens.map(
			(token, agent) =>
				new Promise<WebSocket>((resolve, reject) => {
					const ws = new WebSocket(
						`${base.replace("http", "ws")}/v1/sites/${site}/agents/me/ws`,
						{ perMessageDeflate: false }
					);
					ws.on("message", (data) => {
						const frame = JSON.parse(String(data)) as {
							type: string;
							chatId?: string;
						};
						if (frame.type === "queue") resolve(ws);
						if (frame.type === "assigned") onAssigned(frame.chatId!, agent);
					});
					ws.once("open", () =>
						ws.send(
							JSON.stringify({
								type: "hello",
								token,
								status: "online",
								chats: [],
							})
						)
					);
					ws.once("error", reject);
				})
		)
	);
}

export async function routingLoad(
	base: string,
	site: string,
	agentTokens: string[],
	perSecond: number,
	seconds: number
): Promise<RoutingResult> {
	const sentAt = new Map<string, number>();
	const early = new Map<string, number>(); // assigned before the start's answer named the chat
	const latencies: number[] = [];
	const perAgent = new Array<number>(agentTokens.length).fill(0);
	const record = (chatId: string, at: number, agent: number) => {
		perAgent[agent]!++;
		const started = sentAt.get(chatId);
		if (started === undefined) early.set(chatId, at);
		else latencies.push(at - started);
	};
	const sockets = await consoles(base, site, agentTokens, (chatId, agent) =>
		record(chatId, performance.now(), agent)
	);
	let errors = 0;
	let starts = 0;
	const inFlight: Promise<void>[] = [];
	const began = performance.now();
	for (let i = 0; i < perSecond * seconds; i++) {
		const due = began + (i * 1000) / perSecond;
		if (due > performance.now()) await sleep(due - performance.now());
		const t = performance.now();
		starts++;
		inFlight.push(
			fetch(`${base}/v1/sites/${site}/chats`, {
				method: "POST",
				headers: { "Content-Type": "application/json" },
				body: JSON.stringify({ visitor: { name: `Visitor ${i}` } }),
			})
				.then(async (res) => {
					if (res.status !== 201) throw new Error(String(res.status));
					const { chatId } = (await res.json()) as StartChatResult;
					sentAt.set(chatId, t);
					const at = early.get(chatId);
					if (at !== undefined) latencies.push(at - t);
				})
				.catch(() => void errors++)
		);
	}
	await Promise.all(inFlight);
	const elapsed = (performance.now() - began) / 1000;
	// Stragglers: give the last assignments a moment.
	for (
		let waited = 0;
		latencies.length < starts - errors && waited < 5000;
		waited += 100
	)
		await sleep(100);
	for (const ws of sockets) ws.close();
	latencies.sort((a, b) => a - b);
	return {
		starts,
		assigned: latencies.length,
		perAgent: { min: Math.min(...perAgent), max: Math.max(...perAgent) },
		p50: percentile(latencies, 50),
		p99: percentile(latencies, 99),
		errors,
		seconds: elapsed,
	};
}
