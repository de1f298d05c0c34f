/**
 * One chaos run in one storage mode (SPEC §11, issue 8). Two local deployments (A and B), each
 * behind a loopback proxy whose URL the clients know (primary, secondary). Scripted visitors and
 * agents chat, half over sockets and half over HTTP, while the run evicts Durable Objects (the
 * local debug route), kill -9s a whole deployment and restarts it, and switches the clients
 * between primary and secondary by blacking a proxy out. Then it stops the faults, lets every
 * client settle, ends every chat, waits for the transcripts in D1 and checks everything
 * (chaos-check.ts).
 */
import { readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import WebSocket from "ws";
import { LiveChatClient, LiveChatError, Unreachable } from "../client/index.ts";
import { startLocalDeployment } from "../scripts/local-deployment.ts";
import { addFindings, checkChat, noFindings } from "./chaos-check.ts";
import { SwitchableProxy } from "./chaos-proxy.ts";
import type { OpenSocket } from "../client/index.ts";
import type { LocalDeployment } from "../scripts/local-deployment.ts";
import type { ChatMessage } from "../src/protocol/chat.ts";
import type { ChatOutcome, Findings, Side } from "./chaos-check.ts";

export interface ChaosOptions {
	chatState: "durable" | "memory";
	/** How long the faults last. */
	seconds: number;
	chats: number;
	/** The two deployments' ports. */
	ports: [number, number];
	/** A fresh folder for the two deployments' state. */
	workDir: string;
	/** Where the traces of chats with problems go (a JSON file); the system's temp folder by default. */
	tracesDir?: string;
	/** How long the clients get to agree after the faults, and the transcripts to reach D1 after the ends. */
	settleMs?: number;
	persistMs?: number;
	log?: (line: string) => void;
}

export interface ChaosFigures extends Findings {
	chatState: "durable" | "memory";
	seconds: number;
	chats: number;
	socketChats: number;
	messagesAccepted: number;
	/** Still in an outbox after the settling: never accepted, so not counted as lost, but reported. */
	unsent: number;
	/** Chats whose clients had not converged when the settling time was up. */
	unsettled: number;
	/** Chats with a client call (send, poll, flush, end) that had not come back a long while after the faults stopped. */
	stuck: number;
	evictions: number;
	crashes: number;
	switches: number;
	/** code 1 answers and `rebuild` frames: the server asked for a rebuild. */
	rebuildRequests: number;
	/** `/rebuild` calls and `rebuild` frames: the clients uploaded. */
	rebuilds: number;
	/** Answers and frames naming diverged streams (SPEC §3's chains): split brains found. */
	divergences: number;
	/** HTTP requests still unsettled 5 s after their own timeout should have ended them. */
	hungRequests: number;
	/** Sockets the harness closed because the far side went silent (no pong for 15 s). */
	silentSockets: number;
	/** Sockets still open after every client's disconnect() (and the chatter stopped). */
	socketsOpenAfterDisconnect: number;
	clientErrors: Record<string, number>;
	/** Where the traces of the chats with problems were written, if any had. */
	tracesFile?: string;
}

const SITE = "chaos";
const AGENT = {
	email: "chaos-agent@example.com",
	name: "Chaos Agent",
	password: "chaos-password",
	maxChats: 100,
};
/** Short timeouts and a quick fail-back, so that the faults of a few seconds each are felt. */
const TRANSPORT = {
	timeoutMs: 4000,
	attempts: 3,
	backoffMs: 100,
	failBackAfterMs: 3000,
};
const LONG_POLL_SECONDS = 4;
const HEARTBEAT_MS = 5000;
const SILENT_SOCKET_MS = 15_000;
const SETTLE_MS = 120_000;
const PERSIST_MS = 120_000;
/** Past this, a send or poll still running after the faults stopped is left behind (and reported). */
const WIND_DOWN_MS = 90_000;
/** A single client call (flush, poll, end) in the settling that takes longer than this is stuck. */
const CALL_LIMIT_MS = 60_000;
/** Per chat, the newest lines of its trace are kept (a long run makes many). */
const TRACE_LIMIT = 4000;
/** A request still unsettled this long after its own timeout (the transport's, plus any long-poll wait) is hung. */
const HUNG_AFTER_MS = 5000;

const root = fileURLToPath(new URL("..", import.meta.url));
const sleep = (ms: number) =>
	new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
const between = (low: number, high: number) =>
	low + Math.random() * (high - low);
const pick = <T>(items: readonly T[]): T =>
	items[Math.floor(Math.random() * items.length)]!;

/** One deployment as the faults see it: up, crashed, restarting. */
class Deployment {
	up = false;
	private current: LocalDeployment | undefined;

	constructor(
		readonly name: "A" | "B",
		readonly port: number,
		private readonly stateDir: string,
		private readonly chatState: "durable" | "memory",
		/** Everything the deployment prints, over all its restarts. */
		readonly logFile: string
	) {}

	get url(): string {
		return `http://127.0.0.1:${this.port}`;
	}

	async start(): Promise<void> {
		let lastError: unknown;
		for (let attempt = 0; attempt < 3; attempt++) {
			try {
				this.current = await startLocalDeployment({
					port: this.port,
					stateDir: this.stateDir,
					chatState: this.chatState,
					debugRoutes: true,
					logFile: this.logFile,
				});
				this.up = true;
				return;
			} catch (error) {
				lastError = error;
			}
		}
		throw lastError;
	}

	async crash(): Promise<void> {
		this.up = false;
		await this.current?.crash();
	}

	async stop(): Promise<void> {
		this.up = false;
		await this.current?.stop();
	}
}

interface ChatUnderTest {
	index: number;
	id: string;
	socket: boolean;
	clients: Record<Side, LiveChatClient>;
	/** Ids each side sent, in order, and the ones whose send() resolved. */
	sent: Record<Side, string[]>;
	resolved: Set<string>;
	/** Deployments that answered an end call of this chat. */
	endedOn: Set<string>;
	trace: string[];
}

export async function runChaos(options: ChaosOptions): Promise<ChaosFigures> {
	const run = new ChaosRun(options);
	try {
		return await run.execute();
	} finally {
		await run.shutDown();
	}
}

class ChaosRun {
	private readonly log: (line: string) => void;
	private readonly deployments: [Deployment, Deployment];
	private proxies: [SwitchableProxy, SwitchableProxy] | undefined;
	private adminToken = "";
	private agentToken = "";
	private readonly chats: ChatUnderTest[] = [];
	private readonly events: string[] = [];
	private readonly started = Date.now();
	private readonly tally = {
		evictions: 0,
		crashes: 0,
		switches: 0,
		rebuildRequests: 0,
		rebuilds: 0,
		divergences: 0,
		hungRequests: 0,
		silentSockets: 0,
		socketsOpenAfterDisconnect: 0,
		errors: new Map<string, number>(),
	};
	private readonly openSockets = new Set<WebSocket>();
	/** Chats with a client call that never came back: their traces are kept whatever the checks say. */
	private readonly stuck = new Set<ChatUnderTest>();
	/** Which proxy is dark, if any. */
	private darkProxy: 0 | 1 | undefined;

	constructor(private readonly options: ChaosOptions) {
		this.log =
			options.log ??
			((line) => console.log(`[chaos ${options.chatState}] ${line}`));
		this.deployments = [
			new Deployment(
				"A",
				options.ports[0],
				join(options.workDir, "a"),
				options.chatState,
				this.outputFile(`log-A`, "log")
			),
			new Deployment(
				"B",
				options.ports[1],
				join(options.workDir, "b"),
				options.chatState,
				this.outputFile(`log-B`, "log")
			),
		];
	}

	async execute(): Promise<ChaosFigures> {
		this.log(
			`starting deployments A (:${this.deployments[0].port}) and B (:${this.deployments[1].port}), their output in ${this.deployments[0].logFile} and ${this.deployments[1].logFile}`
		);
		await Promise.all(this.deployments.map((d) => d.start()));
		this.adminToken = readAdminToken();
		await Promise.all(this.deployments.map((d) => this.prepareSite(d)));
		this.proxies = [
			await SwitchableProxy.listen(this.deployments[0].port),
			await SwitchableProxy.listen(this.deployments[1].port),
		];
		this.agentToken = (
			await LiveChatClient.agentLogin({
				baseUrls: [this.deployments[0].url],
				siteId: SITE,
				email: AGENT.email,
				password: AGENT.password,
			})
		).token;

		this.log(
			`opening ${this.options.chats} chats (visitor and agent each; half over sockets)`
		);
		for (let i = 0; i < this.options.chats; i += 10) {
			await Promise.all(
				Array.from({ length: Math.min(10, this.options.chats - i) }, (_, j) =>
					this.openChat(i + j)
				)
			);
		}

		const until = Date.now() + this.options.seconds * 1000;
		this.log(`chatting under faults for ${this.options.seconds} s`);
		const loops = this.chats.flatMap((chat) =>
			(["visitor", "agent"] as const).flatMap((side) => [
				{ chat, side, what: "send", done: this.chatter(chat, side, until) },
				...(chat.socket
					? []
					: [
							{
								chat,
								side,
								what: "poll",
								done: this.pollLoop(chat, side, until),
							},
						]),
			])
		);
		const progress = setInterval(() => this.log(this.progressLine()), 15_000);
		await Promise.all([
			this.evictions(until),
			this.crashes(until),
			this.switches(until),
		]);
		clearInterval(progress);
		this.log(`faults over: ${this.progressLine()}`);

		// Everyone onto A: B's proxy stays dark from here on, so the end of each chat happens in one place.
		for (const d of this.deployments) if (!d.up) await d.start();
		this.setDark(1, "final switch: everyone onto A");
		for (const chat of this.chats)
			for (const client of Object.values(chat.clients)) client.disconnect();
		const finished = new Set<(typeof loops)[number]>();
		await within(
			Promise.all(
				loops.map((loop) => loop.done.then(() => finished.add(loop)))
			),
			WIND_DOWN_MS,
			""
		).catch(() => undefined);
		for (const loop of loops.filter((l) => !finished.has(l))) {
			this.stuck.add(loop.chat);
			this.note(
				loop.chat,
				loop.side,
				`client state: ${clientState(loop.chat.clients[loop.side])}`
			);
			this.note(
				loop.chat,
				loop.side,
				`its ${loop.what} loop is still running ${WIND_DOWN_MS / 1000} s after the faults stopped`
			);
			this.log(
				`chat ${loop.chat.id}: the ${loop.side}'s ${loop.what} loop is still running ${WIND_DOWN_MS / 1000} s after the faults stopped`
			);
		}
		this.tally.socketsOpenAfterDisconnect = [...this.openSockets].filter(
			(ws) => ws.readyState === WebSocket.OPEN
		).length;

		this.log("settling: flushing outboxes and syncing both sides");
		const settleMs = this.options.settleMs ?? SETTLE_MS;
		let unsettled = await this.settle(settleMs);
		this.log(
			`ending ${this.chats.length} chats${unsettled.length > 0 ? ` (${unsettled.length} not settled)` : ""}`
		);
		await forEachLimit(this.chats, 10, (chat) => this.end(chat));
		unsettled = await this.settle(settleMs / 2);

		this.log(
			"reading the server's copies and waiting for the transcripts in D1"
		);
		const outcomes = await this.outcomes();
		const findings = noFindings();
		for (const outcome of outcomes) addFindings(findings, checkChat(outcome));
		const figures = this.figures(
			findings,
			outcomes,
			unsettled.length,
			this.stuck.size
		);
		if (
			findings.problems.length > 0 ||
			unsettled.length > 0 ||
			this.stuck.size > 0
		)
			figures.tracesFile = this.writeTraces(findings, [
				...unsettled,
				...this.stuck,
			]);
		return figures;
	}

	async shutDown(): Promise<void> {
		for (const chat of this.chats)
			for (const client of Object.values(chat.clients)) client.disconnect();
		await Promise.all([
			...(this.proxies ?? []).map((p) => p.close()),
			...this.deployments.map((d) => d.stop().catch(() => undefined)),
		]);
	}

	// ------------------------------------------------------------------ set-up

	/** The run's own site, with limits raised well above what the scripted chats do. */
	private async prepareSite(d: Deployment): Promise<void> {
		const limits: Record<string, number> = {
			messagesPerMinutePerVisitor: 10_000,
		};
		// Limits the schema may or may not know yet (SPEC §6): each kept only if it is accepted.
		const optional: [string, number[]][] = [
			["chatStartsPerMinutePerAddress", [100_000, 10_000, 1000]],
			["socketUpgradesPerMinutePerAddress", [100_000, 10_000]],
			["socketsPerChat", [32]],
			["framesPerSecondPerSocket", [1000, 100]],
		];
		const put = (body: unknown) => this.admin(d, "PUT", `/sites/${SITE}`, body);
		for (const [key, values] of optional) {
			for (const value of values) {
				if (
					(
						await put({
							name: "Chaos run",
							limits: { ...limits, [key]: value },
						})
					).ok
				) {
					limits[key] = value;
					break;
				}
			}
		}
		const site = await put({ name: "Chaos run", limits });
		if (!site.ok)
			throw new Error(
				`PUT site on ${d.name}: ${site.status} ${await site.text()}`
			);
		const agent = await this.admin(d, "POST", `/sites/${SITE}/agents`, AGENT);
		if (!agent.ok && agent.status !== 409)
			throw new Error(
				`POST agent on ${d.name}: ${agent.status} ${await agent.text()}`
			);
	}

	private admin(
		d: Deployment,
		method: string,
		path: string,
		body: unknown
	): Promise<Response> {
		return fetch(`${d.url}/v1/admin${path}`, {
			method,
			headers: {
				Authorization: `Bearer ${this.adminToken}`,
				"Content-Type": "application/json",
			},
			body: JSON.stringify(body),
			signal: AbortSignal.timeout(10_000),
		});
	}

	private async openChat(index: number): Promise<void> {
		const chat: ChatUnderTest = {
			index,
			id: "",
			socket: index % 2 === 0,
			clients: {} as Record<Side, LiveChatClient>,
			sent: { visitor: [], agent: [] },
			resolved: new Set(),
			endedOn: new Set(),
			trace: [],
		};
		const base = (side: Side) => ({
			...TRANSPORT,
			baseUrls: this.proxies!.map((p) => p.url),
			siteId: SITE,
			fetch: this.chatFetch(chat, side),
			openSocket: chat.socket ? this.socketOpener(chat, side) : undefined,
		});
		const visitor = await retry(() =>
			LiveChatClient.startChat({
				...base("visitor"),
				visitor: { name: `Visitor ${index}` },
			})
		);
		chat.id = visitor.chatId;
		chat.clients = {
			visitor,
			agent: new LiveChatClient({
				...base("agent"),
				chatId: visitor.chatId,
				token: this.agentToken,
			}),
		};
		this.chats.push(chat);
		// The agent takes the chat (SPEC §7's accept) and says something at once.
		await retry(() => chat.clients.agent.accept());
		await retry(() => this.send(chat, "agent"));
		if (chat.socket)
			await Promise.all([
				chat.clients.visitor.connect(),
				chat.clients.agent.connect(),
			]);
	}

	// ------------------------------------------------------------------ the clients

	private async send(chat: ChatUnderTest, side: Side): Promise<void> {
		const id = crypto.randomUUID();
		const content = `chat ${chat.index} ${side} #${chat.sent[side].length + 1}`;
		chat.sent[side].push(id);
		this.note(chat, side, `send ${id} "${content}"`);
		await chat.clients[side].send(content, id);
		chat.resolved.add(id);
		this.note(chat, side, `send ${id} resolved`);
	}

	/** A message every 1 to 3 s, at random, until the faults stop. */
	private async chatter(
		chat: ChatUnderTest,
		side: Side,
		until: number
	): Promise<void> {
		for (;;) {
			await sleep(Math.min(between(1000, 3000), until - Date.now()));
			if (Date.now() >= until) return;
			try {
				await this.send(chat, side);
			} catch (error) {
				this.clientError(chat, side, "send", error);
			}
		}
	}

	/** HTTP-only chats: long-poll rounds, as the widget does where sockets are blocked. */
	private async pollLoop(
		chat: ChatUnderTest,
		side: Side,
		until: number
	): Promise<void> {
		while (Date.now() < until) {
			try {
				await chat.clients[side].poll(LONG_POLL_SECONDS);
			} catch (error) {
				this.clientError(chat, side, "poll", error);
				await sleep(500);
			}
		}
	}

	private clientError(
		chat: ChatUnderTest,
		side: Side,
		during: string,
		error: unknown
	): void {
		const kind = `${during}: ${errorKind(error)}`;
		this.tally.errors.set(kind, (this.tally.errors.get(kind) ?? 0) + 1);
		this.note(
			chat,
			side,
			`${kind} (${error instanceof Error ? error.message.slice(0, 160) : String(error)})`
		);
	}

	/** fetch for one client: counts rebuilds and ends, and keeps the chat's trace. */
	private chatFetch(chat: ChatUnderTest, side: Side): typeof fetch {
		return async (input, init) => {
			const url = new URL(String(input));
			const via = this.behind(url.port);
			const method = init?.method ?? "GET";
			const path =
				url.pathname.replace(/^.*\/chats\/[0-9a-f-]{36}/, "") + url.search;
			const headers = new Headers(init?.headers);
			const sentOffsets = `${headers.get("X-Visitor-Data-Offset") ?? "-"}/${headers.get("X-Agent-Data-Offset") ?? "-"}`;
			this.note(chat, side, `${via} ${method} ${path} ${sentOffsets} …`);
			const uploaded =
				path === "/rebuild"
					? ` up ${describeMessages((JSON.parse(String(init?.body)) as { messages: ChatMessage[] }).messages)}`
					: "";
			// The transport gives every request a timeout; one that outlives it by far is a hang worth tracing.
			let stage = "headers";
			const waitMs = Number(url.searchParams.get("wait") ?? 0) * 1000;
			const watchdog = setTimeout(
				() => {
					this.tally.hungRequests++;
					this.note(
						chat,
						side,
						`${via} ${method} ${path} ${sentOffsets} still waiting for its ${stage} ${(TRANSPORT.timeoutMs + waitMs + HUNG_AFTER_MS) / 1000} s after it left`
					);
				},
				TRANSPORT.timeoutMs + waitMs + HUNG_AFTER_MS
			);
			const failed = (error: unknown) => {
				clearTimeout(watchdog);
				this.note(
					chat,
					side,
					`${via} ${method} ${path} ${sentOffsets} failed${stage === "body" ? " in its body" : ""}: ${errorKind(error)}`
				);
			};
			let response: Response;
			try {
				response = await fetch(input, init);
			} catch (error) {
				failed(error);
				throw error;
			}
			stage = "body";
			const what = `${via} ${method} ${path} ${sentOffsets}${uploaded}`;
			const reader = response.body?.getReader();
			if (!reader) {
				clearTimeout(watchdog);
				this.answered(chat, side, via, what, path, response.status, "");
				return response;
			}
			// The body is looked at as the SDK reads it (pulled, nothing read ahead, nothing copied): the SDK meets every stall and error itself.
			const chunks: Uint8Array[] = [];
			const observed = new ReadableStream<Uint8Array>(
				{
					pull: async (controller) => {
						try {
							const { done, value } = await reader.read();
							if (!done)
								return void (chunks.push(value), controller.enqueue(value));
							clearTimeout(watchdog);
							this.answered(
								chat,
								side,
								via,
								what,
								path,
								response.status,
								Buffer.concat(chunks).toString("utf8")
							);
							controller.close();
						} catch (error) {
							failed(error);
							controller.error(error);
						}
					},
					cancel: (reason) => {
						clearTimeout(watchdog);
						this.note(
							chat,
							side,
							`${what} → ${response.status}, body not read`
						);
						return reader.cancel(reason);
					},
				},
				{ highWaterMark: 0 }
			);
			return new Response(observed, {
				status: response.status,
				statusText: response.statusText,
				headers: response.headers,
			});
		};
	}

	/** What an answer the SDK read in full says: counted, and traced. */
	private answered(
		chat: ChatUnderTest,
		side: Side,
		via: string,
		what: string,
		path: string,
		status: number,
		text: string
	): void {
		let body:
			| {
					code?: number;
					visitorDataOffset?: number;
					agentDataOffset?: number;
					messages?: ChatMessage[];
					diverged?: string[];
					error?: { type: string };
			  }
			| undefined;
		try {
			body = JSON.parse(text) as typeof body;
		} catch {
			body = undefined;
		}
		const ok = status >= 200 && status < 300;
		if (body?.code === 1) this.tally.rebuildRequests++;
		if (body?.diverged?.length) this.tally.divergences++;
		if (path === "/rebuild" && ok) this.tally.rebuilds++;
		if (path === "/end" && ok) chat.endedOn.add(via);
		this.note(
			chat,
			side,
			`${what} → ${status} code ${body?.code ?? "-"} ${body?.visitorDataOffset ?? "-"}/${body?.agentDataOffset ?? "-"}` +
				`${body?.diverged ? ` diverged ${body.diverged.join(",")}` : ""}${body?.error ? ` ${body.error.type}` : ""} ${describeMessages(body?.messages ?? [])}`
		);
	}

	/** WebSockets with `ws` (Node 20 has none): counts rebuild frames, traces, and pings so a silent socket is noticed. */
	private socketOpener(chat: ChatUnderTest, side: Side): OpenSocket {
		return (url) =>
			new Promise((resolve, reject) => {
				const via = this.behind(new URL(url).port);
				// No permessage-deflate: frames are small, and zlib handles still busy at exit keep Node from exiting.
				const ws = new WebSocket(url, {
					handshakeTimeout: 5000,
					perMessageDeflate: false,
				});
				let lastHeard = Date.now();
				let heartbeat: NodeJS.Timeout | undefined;
				ws.on("error", () => undefined); // a close follows; that is what the session listens to
				this.openSockets.add(ws);
				ws.on("close", (code) => {
					this.openSockets.delete(ws);
					clearInterval(heartbeat);
					this.note(chat, side, `${via} socket closed ${code}`);
					reject(new Error(`cannot open ${url}`));
				});
				ws.on("message", (data) => {
					lastHeard = Date.now();
					const text = String(data);
					if (text.startsWith('{"type":"rebuild"'))
						this.tally.rebuildRequests++;
					if (text.includes('"diverged":["')) this.tally.divergences++;
					if (text !== "pong")
						this.note(chat, side, `${via} ⇐ ${describeFrame(text)}`);
				});
				ws.once("open", () => {
					const send = ws.send.bind(ws);
					(ws as unknown as { send(data: string): void }).send = (
						data: string
					) => {
						if (data.startsWith('{"type":"rebuild"')) this.tally.rebuilds++;
						this.note(chat, side, `${via} ⇒ ${describeFrame(data)}`);
						send(data);
					};
					heartbeat = setInterval(() => {
						if (Date.now() - lastHeard < SILENT_SOCKET_MS) return send("ping");
						this.tally.silentSockets++;
						this.note(
							chat,
							side,
							`${via} socket silent for ${SILENT_SOCKET_MS / 1000} s: closing it`
						);
						ws.terminate();
					}, HEARTBEAT_MS);
					resolve(ws as unknown as globalThis.WebSocket);
				});
			});
	}

	// ------------------------------------------------------------------ the faults

	/** A few evictions a second, each of a random chat's room on the deployment its visitor is talking to. */
	private async evictions(until: number): Promise<void> {
		// Not one after another: under load an eviction call takes a while, and the rate must not depend on it.
		const inFlight = new Set<Promise<void>>();
		let failure: unknown;
		while (Date.now() < until && failure === undefined) {
			await sleep(between(150, 500));
			if (inFlight.size >= 8) continue;
			const eviction = this.evictOne()
				.catch((error) => void (failure ??= error))
				.finally(() => inFlight.delete(eviction));
			inFlight.add(eviction);
		}
		await Promise.all(inFlight);
		if (failure !== undefined) throw failure;
	}

	/** Aborts the room of a random chat on the deployment one of its clients is talking to. */
	private async evictOne(): Promise<void> {
		const chat = pick(this.chats);
		const baseUrl = pick(Object.values(chat.clients)).baseUrl;
		const index = this.proxies!.findIndex((p) => p.url === baseUrl);
		if (index < 0)
			throw new Error(
				`chat ${chat.id}: a client talks to ${baseUrl}, none of the proxies`
			);
		const d = this.deployments[index]!;
		if (!d.up) return;
		let response: Response;
		try {
			response = await fetch(
				`${d.url}/v1/debug/sites/${SITE}/chats/${chat.id}/evict`,
				{
					method: "POST",
					headers: { Authorization: `Bearer ${this.adminToken}` },
					signal: AbortSignal.timeout(5000),
				}
			);
		} catch {
			return; // the deployment went down meanwhile
		}
		if (response.status === 404 || response.status === 401)
			throw new Error(
				`the debug route answered ${response.status}: is DEBUG_ROUTES passed?`
			);
		if (response.status !== 204) return;
		this.tally.evictions++;
		this.note(chat, undefined, `evicted on ${d.name}`);
	}

	/** kill -9 of one deployment (alternating, first one at random) every 20 to 40 s, restarted at once. */
	private async crashes(until: number): Promise<void> {
		let victim = Math.random() < 0.5 ? 0 : 1;
		// The first one early, so that a short run has one too.
		let next =
			Date.now() + Math.min(between(8000, 14_000), (until - Date.now()) / 3);
		for (;;) {
			await sleep(Math.min(next, until) - Date.now());
			if (Date.now() >= until) return;
			const d = this.deployments[victim]!;
			// Never both out of reach at once: light the survivor's proxy first.
			if (this.darkProxy === 1 - victim)
				this.setDark(
					undefined,
					`lighting ${1 - victim === 0 ? "primary" : "secondary"} before the crash`
				);
			await d.crash();
			this.tally.crashes++;
			this.event(`kill -9 of deployment ${d.name}`);
			const restartedAt = Date.now();
			await d.start();
			this.event(
				`deployment ${d.name} back after ${((Date.now() - restartedAt) / 1000).toFixed(1)} s`
			);
			victim = 1 - victim;
			next = Date.now() + between(20_000, 40_000);
		}
	}

	/** Every 3 to 8 s: black out the primary, the secondary, or neither (never the only way to a live deployment). */
	private async switches(until: number): Promise<void> {
		for (;;) {
			await sleep(Math.min(between(3000, 8000), until - Date.now()));
			if (Date.now() >= until) return;
			const choices = ([undefined, 0, 1] as const).filter(
				(dark) =>
					dark !== this.darkProxy &&
					(dark === undefined || this.deployments[1 - dark]!.up)
			);
			if (choices.length === 0) continue;
			const dark = pick(choices);
			this.tally.switches++;
			this.setDark(
				dark,
				dark === undefined
					? "switch: both URLs answer"
					: `switch: ${dark === 0 ? "primary" : "secondary"} URL dark`
			);
		}
	}

	private setDark(dark: 0 | 1 | undefined, why: string): void {
		this.darkProxy = dark;
		this.proxies!.forEach((proxy, i) => proxy.setDark(i === dark));
		this.event(why);
	}

	// ------------------------------------------------------------------ the end

	/** Rounds of flush and poll on both sides until both copies agree and no outbox holds anything. */
	private async settle(ms: number): Promise<ChatUnderTest[]> {
		const deadline = Date.now() + ms;
		let pending = [...this.chats];
		while (pending.length > 0 && Date.now() < deadline) {
			await forEachLimit(pending, 10, async (chat) => {
				for (const side of ["visitor", "agent", "visitor"] as const) {
					try {
						await within(chat.clients[side].flush(), CALL_LIMIT_MS, "flush");
						await within(chat.clients[side].poll(), CALL_LIMIT_MS, "poll");
					} catch (error) {
						this.clientError(chat, side, "settle", error);
						if (error instanceof TimedOut) this.stuck.add(chat);
					}
				}
			});
			pending = pending.filter((chat) => !converged(chat));
			if (pending.length > 0) await sleep(1000);
		}
		return pending;
	}

	private async end(chat: ChatUnderTest): Promise<void> {
		const side = pick(["visitor", "agent"] as const);
		for (let attempt = 0; attempt < 5; attempt++) {
			try {
				this.note(chat, side, "end");
				return await within(chat.clients[side].end(), CALL_LIMIT_MS, "end");
			} catch (error) {
				this.clientError(chat, side, "end", error);
				if (error instanceof TimedOut) return void this.stuck.add(chat);
				await sleep(1000);
			}
		}
	}

	private async outcomes(): Promise<ChatOutcome[]> {
		const servers = new Map<string, ChatMessage[] | undefined>();
		await forEachLimit(
			this.chats,
			10,
			async (chat) => void servers.set(chat.id, await this.serverCopy(chat))
		);
		const transcripts = new Map<string, ChatOutcome["transcripts"]>(
			this.chats.map((c) => [c.id, []])
		);
		const deadline = Date.now() + (this.options.persistMs ?? PERSIST_MS);
		for (const d of this.deployments) {
			let waiting = this.chats.filter((c) => c.endedOn.has(d.name));
			const once = this.chats.filter((c) => !c.endedOn.has(d.name));
			// Where no end happened, a transcript is not expected, but one that is there must be whole.
			await forEachLimit(once, 10, async (chat) => {
				const messageIds = await this.transcript(d, chat);
				if (messageIds)
					transcripts.get(chat.id)!.push({ deployment: d.name, messageIds });
			});
			while (waiting.length > 0 && Date.now() < deadline) {
				const found = new Set<string>();
				await forEachLimit(waiting, 10, async (chat) => {
					const messageIds = await this.transcript(d, chat);
					if (!messageIds) return;
					transcripts.get(chat.id)!.push({ deployment: d.name, messageIds });
					found.add(chat.id);
				});
				waiting = waiting.filter((c) => !found.has(c.id));
				if (waiting.length > 0) await sleep(2000);
			}
		}
		return this.chats.map((chat) => ({
			chatId: chat.id,
			sent: chat.sent,
			accepted: acceptedOf(chat),
			copies: {
				visitor: chat.clients.visitor.messages,
				agent: chat.clients.agent.messages,
				server: servers.get(chat.id),
			},
			transcripts: transcripts.get(chat.id)!,
			mustBePersistedOn: [...chat.endedOn],
		}));
	}

	/** The chat as A holds it (offsets 0/0: everything). A memory-mode room that lost it meanwhile is rebuilt by the clients first. */
	private async serverCopy(
		chat: ChatUnderTest
	): Promise<ChatMessage[] | undefined> {
		for (let attempt = 0; attempt < 3; attempt++) {
			try {
				const response = await fetch(
					`${this.deployments[0].url}/v1/sites/${SITE}/chats/${chat.id}/messages`,
					{
						headers: { Authorization: `Bearer ${this.agentToken}` },
						signal: AbortSignal.timeout(10_000),
					}
				);
				const body = (await response.json()) as {
					code: number;
					messages: ChatMessage[];
				};
				if (response.ok && body.code === 0) return body.messages;
				this.note(
					chat,
					undefined,
					`server copy on A: ${response.status} code ${body.code}; the clients rebuild it`
				);
				for (const side of ["visitor", "agent"] as const) {
					await within(chat.clients[side].poll(), CALL_LIMIT_MS, "poll").catch(
						(error) => this.clientError(chat, side, "settle", error)
					);
				}
			} catch (error) {
				this.note(
					chat,
					undefined,
					`server copy on A failed: ${errorKind(error)}`
				);
			}
		}
		return undefined;
	}

	private async transcript(
		d: Deployment,
		chat: ChatUnderTest
	): Promise<string[] | undefined> {
		try {
			const response = await fetch(
				`${d.url}/v1/sites/${SITE}/history/chats/${chat.id}`,
				{
					headers: { Authorization: `Bearer ${this.agentToken}` },
					signal: AbortSignal.timeout(10_000),
				}
			);
			if (response.status === 404) return undefined;
			if (!response.ok)
				throw new Error(
					`history on ${d.name}: ${response.status} ${await response.text()}`
				);
			return (
				(await response.json()) as { messages: { id: string }[] }
			).messages.map((m) => m.id);
		} catch (error) {
			this.note(
				chat,
				undefined,
				`history on ${d.name} failed: ${errorKind(error)}`
			);
			return undefined;
		}
	}

	// ------------------------------------------------------------------ figures and traces

	private figures(
		findings: Findings,
		outcomes: ChatOutcome[],
		unsettled: number,
		stuck: number
	): ChaosFigures {
		const unsent = this.chats.reduce(
			(n, chat) =>
				n +
				chat.clients.visitor.pending.length +
				chat.clients.agent.pending.length,
			0
		);
		return {
			chatState: this.options.chatState,
			seconds: this.options.seconds,
			chats: this.chats.length,
			socketChats: this.chats.filter((c) => c.socket).length,
			messagesAccepted: outcomes.reduce((n, o) => n + o.accepted.size, 0),
			unsent,
			unsettled,
			stuck,
			...findings,
			evictions: this.tally.evictions,
			crashes: this.tally.crashes,
			switches: this.tally.switches,
			rebuildRequests: this.tally.rebuildRequests,
			rebuilds: this.tally.rebuilds,
			divergences: this.tally.divergences,
			hungRequests: this.tally.hungRequests,
			silentSockets: this.tally.silentSockets,
			socketsOpenAfterDisconnect: this.tally.socketsOpenAfterDisconnect,
			clientErrors: Object.fromEntries(
				[...this.tally.errors].sort((a, b) => b[1] - a[1])
			),
		};
	}

	private progressLine(): string {
		const accepted = this.chats.reduce((n, c) => n + c.resolved.size, 0);
		const errors = [...this.tally.errors.values()].reduce((a, b) => a + b, 0);
		const { evictions, crashes, switches, rebuilds } = this.tally;
		return `${accepted} sends accepted, ${errors} client errors, ${evictions} evictions, ${crashes} crashes, ${switches} switches, ${rebuilds} rebuild uploads`;
	}

	/** A file of this run beside the traces: named by mode and start time, so runs never overwrite each other. */
	private outputFile(what: string, extension: string): string {
		const stamp = new Date(this.started).toISOString().replace(/[:.]/g, "-");
		return join(
			this.options.tracesDir ?? tmpdir(),
			`elc-chaos-${what}-${this.options.chatState}-${stamp}.${extension}`
		);
	}

	private writeTraces(findings: Findings, unsettled: ChatUnderTest[]): string {
		const troubled = new Set([
			...unsettled.map((c) => c.id),
			...findings.problems.map((p) => /^chat (\S+):/.exec(p)?.[1]),
		]);
		const file = this.outputFile("traces", "json");
		const chats = this.chats
			.filter((c) => troubled.has(c.id))
			.map((c) => ({
				chatId: c.id,
				index: c.index,
				socket: c.socket,
				problems: findings.problems.filter((p) =>
					p.startsWith(`chat ${c.id}:`)
				),
				sent: c.sent,
				resolved: [...c.resolved],
				endedOn: [...c.endedOn],
				visitorCopy: c.clients.visitor.messages.map(brief),
				agentCopy: c.clients.agent.messages.map(brief),
				trace: c.trace,
			}));
		writeFileSync(
			file,
			JSON.stringify({ events: this.events, chats }, null, 1)
		);
		return file;
	}

	private behind(port: string): string {
		const index = this.proxies?.findIndex((p) => String(p.port) === port) ?? -1;
		return index >= 0 ? this.deployments[index]!.name : `:${port}`;
	}

	private elapsed(): string {
		return ((Date.now() - this.started) / 1000).toFixed(2).padStart(7);
	}

	private event(line: string): void {
		this.events.push(`${this.elapsed()} ${line}`);
		for (const chat of this.chats) this.note(chat, undefined, `** ${line}`);
	}

	private note(
		chat: ChatUnderTest,
		side: Side | undefined,
		line: string
	): void {
		if (chat.trace.length >= TRACE_LIMIT)
			chat.trace.splice(0, TRACE_LIMIT / 2, "(older lines dropped)");
		chat.trace.push(`${this.elapsed()} ${side ?? "harness"}: ${line}`);
	}
}

function converged(chat: ChatUnderTest): boolean {
	const { visitor, agent } = chat.clients;
	if (visitor.pending.length > 0 || agent.pending.length > 0) return false;
	const ids = (client: LiveChatClient) =>
		client.messages.map((m) => `${m.id}@${m.dataOffset}`).join(" ");
	return ids(visitor) === ids(agent);
}

/** Accepted: its send() resolved, or it reached its sender's copy later (an outbox flushed after a failed send). */
function acceptedOf(chat: ChatUnderTest): Set<string> {
	const accepted = new Set(chat.resolved);
	for (const side of ["visitor", "agent"] as const) {
		const own = new Set(chat.clients[side].messages.map((m) => m.id));
		for (const id of chat.sent[side]) if (own.has(id)) accepted.add(id);
	}
	return accepted;
}

function errorKind(error: unknown): string {
	if (error instanceof LiveChatError)
		return `${error.status} ${error.type}${error.path ? ` on ${error.path}` : ""}`;
	if (error instanceof Unreachable) return "unreachable";
	if (error instanceof TimedOut) return "timed out (stuck)";
	if (error instanceof Error && /is still in the outbox/.test(error.message))
		return "still in the outbox";
	// The SDK parses what a 2xx answer carried; a body cut short (connection reset mid-answer) is not JSON.
	if (error instanceof Error && error.name === "ZodError")
		return "answer not a ReturnResult (ZodError)";
	if (error instanceof Error)
		return `${error.name}: ${error.message.slice(0, 80)}`;
	return String(error);
}

const brief = (m: ChatMessage) => ({
	id: m.id,
	type: m.type,
	dataOffset: m.dataOffset,
	sendTime: m.sendTime,
	content: m.content,
});

function describeMessages(messages: ChatMessage[]): string {
	if (messages.length === 0) return "[]";
	const shown = messages
		.slice(0, 8)
		.map(
			(m) => `${m.type === 1 ? "v" : "a"}${m.dataOffset}:${m.id.slice(0, 8)}`
		);
	return `[${shown.join(" ")}${messages.length > 8 ? ` …+${messages.length - 8}` : ""}]`;
}

function describeFrame(text: string): string {
	try {
		const frame = JSON.parse(text) as {
			type: string;
			id?: string;
			dataOffset?: number;
			message?: ChatMessage;
			messages?: ChatMessage[];
			visitorDataOffset?: number;
			agentDataOffset?: number;
			code?: number;
			error?: { type: string };
		};
		const offsets =
			frame.visitorDataOffset !== undefined
				? ` ${frame.visitorDataOffset}/${frame.agentDataOffset}`
				: "";
		const id = frame.id
			? ` ${frame.id.slice(0, 8)}@${frame.dataOffset}`
			: frame.message
				? ` ${describeMessages([frame.message])}`
				: "";
		const messages = frame.messages
			? ` ${describeMessages(frame.messages)}`
			: "";
		return `${frame.type}${frame.code !== undefined ? ` code ${frame.code}` : ""}${offsets}${id}${messages}${frame.error ? ` ${frame.error.type}` : ""}`;
	} catch {
		return text.slice(0, 40);
	}
}

async function retry<T>(work: () => Promise<T>, attempts = 5): Promise<T> {
	for (let attempt = 1; ; attempt++) {
		try {
			return await work();
		} catch (error) {
			if (attempt >= attempts) throw error;
			await sleep(500 * attempt);
		}
	}
}

async function forEachLimit<T>(
	items: readonly T[],
	limit: number,
	work: (item: T) => Promise<void>
): Promise<void> {
	let next = 0;
	await Promise.all(
		Array.from({ length: Math.min(limit, items.length) }, async () => {
			while (next < items.length) await work(items[next++]!);
		})
	);
}

class TimedOut extends Error {}

/** For the trace of a client that got stuck: what the SDK is in the middle of. */
function clientState(client: LiveChatClient): string {
	const peek = (field: string) => Reflect.get(client, field) as unknown;
	const offsets = client.offsets;
	return JSON.stringify({
		realtime: client.realtime,
		offsets: `${offsets.visitorDataOffset}/${offsets.agentDataOffset}`,
		outbox: client.pending.map((m) => m.id),
		rebuilding: peek("rebuilding") !== undefined,
		session: peek("session") !== undefined,
		displaced: (peek("displaced") as unknown[] | undefined)?.length,
	});
}

/** The promise, or a TimedOut after `ms` (the work itself goes on: nothing can cancel a client call). */
async function within<T>(
	promise: Promise<T>,
	ms: number,
	what: string
): Promise<T> {
	let timer: NodeJS.Timeout | undefined;
	try {
		return await Promise.race([
			promise,
			new Promise<never>(
				(_, reject) =>
					(timer = setTimeout(
						() =>
							reject(
								new TimedOut(`${what} did not come back in ${ms / 1000} s`)
							),
						ms
					))
			),
		]);
	} finally {
		clearTimeout(timer);
	}
}

/** ADMIN_TOKEN from .dev.vars, which the deployments read too (scripts/start.mjs creates it when missing). */
function readAdminToken(): string {
	const text = readFileSync(join(root, ".dev.vars"), "utf8");
	const match = /^\s*(?:export\s+)?ADMIN_TOKEN\s*=\s*["']?([^"'\s#]+)/m.exec(
		text
	);
	if (!match?.[1]) throw new Error(".dev.vars has no ADMIN_TOKEN");
	return match[1];
}
