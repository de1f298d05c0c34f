/**
 * The HTTP figures of `npm run bench` (SPEC §11): sends against the DO echo baseline, the rebuild
 * of a long chat after eviction, and what an idle chat costs in memory mode.
 */
import { LiveChatClient } from "../client/index.ts";
import { startLocalDeployment } from "../scripts/local-deployment.ts";
import { closedLoop, summarize } from "./http-load.ts";
import {
	acceptChat,
	benchSite,
	CONCURRENCY,
	deploy,
	deploymentOptions,
	IDLE_CHATS,
	inBatches,
	json,
	log,
	REBUILD_MESSAGES,
	ROUNDS,
	SECONDS,
	sender,
	startChat,
	startEcho,
} from "./setup.ts";
import { residentBytes } from "./worker-process.ts";
import type { LoadResult } from "./http-load.ts";

export async function httpSend() {
	const echo = await startEcho(18800);
	const durable = await deploy(18801, "send-durable", "durable");
	const memory = await deploy(18803, "send-memory", "memory");
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

export async function rebuild() {
	const options = deploymentOptions(18802, "rebuild", "memory");
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

/** Resident memory of the workerd serving `port` (the deployment's one process). */
/** Memory mode: how much a chat that is open but quiet costs the process holding it. */
export async function idleChatMemory() {
	const port = 18806;
	const deployment = await deploy(port, "memory", "memory");
	try {
		await benchSite(deployment.url);
		const fill = async () => {
			const chat = await startChat(deployment.url);
			const loop = sender(deployment.url, chat.chatId, chat.token);
			for (let m = 0; m < 5; m++) await loop();
		};
		await inBatches(50, 25, fill); // warm: code, caches, the first rooms
		await new Promise((r) => setTimeout(r, 1000));
		const before = await residentBytes(port);
		log(`opening ${IDLE_CHATS} idle chats of 5 messages`);
		await inBatches(IDLE_CHATS, 25, fill);
		await new Promise((r) => setTimeout(r, 1000));
		return {
			bytesPerChat: ((await residentBytes(port)) - before) / IDLE_CHATS,
		};
	} finally {
		await deployment.stop();
	}
}
