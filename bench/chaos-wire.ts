/**
 * What the chaos run's clients talk through: a fetch and a WebSocket opener per client that count
 * rebuilds, divergences and ends, notice hung requests and silent sockets, and trace every exchange.
 */
import WebSocket from "ws";
import { describeFrame, describeMessages, errorKind } from "./chaos-util.ts";
import type { OpenSocket } from "../client/index.ts";
import type { ChatMessage } from "../src/protocol/chat.ts";
import type { Side } from "./chaos-check.ts";
import type { Fleet } from "./chaos-fleet.ts";
import type { ChatUnderTest, Recorder } from "./chaos-recorder.ts";

/** Short timeouts and a quick fail-back, so that the faults of a few seconds each are felt. */
export const TRANSPORT = {
	timeoutMs: 4000,
	attempts: 3,
	backoffMs: 100,
	failBackAfterMs: 3000,
};
const HEARTBEAT_MS = 5000;
const SILENT_SOCKET_MS = 15_000;
/** A request still unsettled this long after its own timeout (the transport's, plus any long-poll wait) is hung. */
const HUNG_AFTER_MS = 5000;

/** fetch for one client (`agent`: the agent whose it is): counts rebuilds and ends, keeps the chat's trace, notes the chatStates handed out. */
export function chatFetch(
	recorder: Recorder,
	fleet: Fleet,
	chat: ChatUnderTest,
	side: Side,
	agent?: string
): typeof fetch {
	const note = (line: string) =>
		recorder.note(chat, side, agent ? `[${agent}] ${line}` : line);
	return async (input, init) => {
		const url = new URL(String(input));
		const via = fleet.behind(url.port);
		const method = init?.method ?? "GET";
		const path =
			url.pathname.replace(/^.*\/chats\/[0-9a-f-]{36}/, "") + url.search;
		const headers = new Headers(init?.headers);
		const sentOffsets = `${headers.get("X-Visitor-Data-Offset") ?? "-"}/${headers.get("X-Agent-Data-Offset") ?? "-"}`;
		note(`${via} ${method} ${path} ${sentOffsets} …`);
		const uploaded =
			path === "/rebuild"
				? ` up ${describeMessages((JSON.parse(String(init?.body)) as { messages: ChatMessage[] }).messages)}`
				: "";
		// The transport gives every request a timeout; one that outlives it by far is a hang worth tracing.
		let stage = "headers";
		const waitMs = Number(url.searchParams.get("wait") ?? 0) * 1000;
		const watchdog = setTimeout(
			() => {
				recorder.tally.hungRequests++;
				note(
					`${via} ${method} ${path} ${sentOffsets} still waiting for its ${stage} ${(TRANSPORT.timeoutMs + waitMs + HUNG_AFTER_MS) / 1000} s after it left`
				);
			},
			TRANSPORT.timeoutMs + waitMs + HUNG_AFTER_MS
		);
		const failed = (error: unknown) => {
			clearTimeout(watchdog);
			note(
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
		const what = `${agent ? `[${agent}] ` : ""}${via} ${method} ${path} ${sentOffsets}${uploaded}`;
		const answer = (text: string) =>
			answered(
				recorder,
				chat,
				agent ?? side,
				side,
				via,
				what,
				path,
				response.status,
				text
			);
		const reader = response.body?.getReader();
		if (!reader) {
			clearTimeout(watchdog);
			answer("");
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
						answer(Buffer.concat(chunks).toString("utf8"));
						controller.close();
					} catch (error) {
						failed(error);
						controller.error(error);
					}
				},
				cancel: (reason) => {
					clearTimeout(watchdog);
					note(`${what} → ${response.status}, body not read`);
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
function answered(
	recorder: Recorder,
	chat: ChatUnderTest,
	who: string,
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
				chatState?: string;
				error?: { type: string };
		  }
		| undefined;
	try {
		body = JSON.parse(text) as typeof body;
	} catch {
		body = undefined;
	}
	const ok = status >= 200 && status < 300;
	if (body?.code === 1) recorder.tally.rebuildRequests++;
	if (body?.diverged?.length) recorder.tally.divergences++;
	if (path === "/rebuild" && ok) recorder.tally.rebuilds++;
	if (path === "/end" && ok) chat.endedOn.add(via);
	if (ok && typeof body?.chatState === "string")
		recorder.observeState(chat, who, via, body.chatState);
	recorder.note(
		chat,
		side,
		`${what} → ${status} code ${body?.code ?? "-"} ${body?.visitorDataOffset ?? "-"}/${body?.agentDataOffset ?? "-"}` +
			`${body?.diverged ? ` diverged ${body.diverged.join(",")}` : ""}${body?.error ? ` ${body.error.type}` : ""} ${describeMessages(body?.messages ?? [])}`
	);
}

/** WebSockets with `ws` (Node 20 has none): counts rebuild frames, traces, and pings so a silent socket is noticed. */
export function socketOpener(
	recorder: Recorder,
	fleet: Fleet,
	chat: ChatUnderTest,
	side: Side,
	agent?: string
): OpenSocket {
	const note = (line: string) =>
		recorder.note(chat, side, agent ? `[${agent}] ${line}` : line);
	const { tally } = recorder;
	return (url) =>
		new Promise((resolve, reject) => {
			const via = fleet.behind(new URL(url).port);
			// No permessage-deflate: frames are small, and zlib handles still busy at exit keep Node from exiting.
			const ws = new WebSocket(url, {
				handshakeTimeout: 5000,
				perMessageDeflate: false,
			});
			let lastHeard = Date.now();
			let heartbeat: NodeJS.Timeout | undefined;
			ws.on("error", () => undefined); // a close follows; that is what the session listens to
			recorder.openSockets.add(ws);
			ws.on("close", (code) => {
				recorder.openSockets.delete(ws);
				clearInterval(heartbeat);
				note(`${via} socket closed ${code}`);
				reject(new Error(`cannot open ${url}`));
			});
			ws.on("message", (data) => {
				lastHeard = Date.now();
				const text = String(data);
				if (text.startsWith('{"type":"rebuild"')) tally.rebuildRequests++;
				if (text.includes('"diverged":["')) tally.divergences++;
				const sealed = chatStateIn(text);
				if (sealed) recorder.observeState(chat, agent ?? side, via, sealed);
				if (text !== "pong") note(`${via} ⇐ ${describeFrame(text)}`);
			});
			ws.once("open", () => {
				const send = ws.send.bind(ws);
				(ws as unknown as { send(data: string): void }).send = (
					data: string
				) => {
					if (data.startsWith('{"type":"rebuild"')) tally.rebuilds++;
					note(`${via} ⇒ ${describeFrame(data)}`);
					send(data);
				};
				heartbeat = setInterval(() => {
					if (Date.now() - lastHeard < SILENT_SOCKET_MS) return send("ping");
					tally.silentSockets++;
					note(
						`${via} socket silent for ${SILENT_SOCKET_MS / 1000} s: closing it`
					);
					ws.terminate();
				}, HEARTBEAT_MS);
				resolve(ws as unknown as globalThis.WebSocket);
			});
		});
}

/** An agent console's presence socket: traced on the agent (assignments, releases), the chatStates of its assignments recorded. */
export function presenceOpener(
	recorder: Recorder,
	fleet: Fleet,
	agentId: string,
	sockets: Set<WebSocket>
): OpenSocket {
	const note = (line: string) => recorder.agentNote(agentId, line);
	return (url) =>
		new Promise((resolve, reject) => {
			const via = fleet.behind(new URL(url).port);
			const ws = new WebSocket(url, {
				handshakeTimeout: 5000,
				perMessageDeflate: false,
			});
			ws.on("error", () => undefined);
			sockets.add(ws);
			ws.on("close", (code) => {
				sockets.delete(ws);
				note(`${via} presence socket closed ${code}`);
				reject(new Error(`cannot open ${url}`));
			});
			ws.on("message", (data) => {
				const text = String(data);
				if (!text.startsWith("{")) return;
				const frame = JSON.parse(text) as {
					type: string;
					chatId?: string;
					chatState?: string;
					reason?: string;
				};
				// Presence and queue frames go to every console on every change: too many to trace.
				if (frame.type === "presence" || frame.type === "queue") return;
				note(
					`${via} ⇐ ${frame.type}${frame.chatId ? ` ${frame.chatId}` : ""}${frame.reason ? ` (${frame.reason})` : ""}`
				);
				const { chatId, chatState } = frame;
				if (chatId && chatState)
					recorder.whenKnown(chatId, (chat) =>
						recorder.observeState(chat, `${agentId}'s console`, via, chatState)
					);
			});
			ws.once("open", () => {
				note(`${via} presence socket open`);
				resolve(ws as unknown as globalThis.WebSocket);
			});
		});
}

/** The chatState a `sync` or `state` frame carries. */
function chatStateIn(text: string): string | undefined {
	if (!text.includes('"chatState"')) return undefined;
	try {
		const frame = JSON.parse(text) as { chatState?: unknown };
		return typeof frame.chatState === "string" ? frame.chatState : undefined;
	} catch {
		return undefined;
	}
}
