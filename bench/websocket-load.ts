/**
 * WebSocket load (SPEC §11): visitor → agent delivery across many chats at once, against a bare
 * WebSocket echo through a Durable Object measured in the same run.
 */
import WebSocket from "ws";
import type { LoadResult } from "./http-load.ts";

type Match = (frame: { type?: string; message?: { id?: string } }) => boolean;

/** A socket with a one-at-a-time "wait for the frame that matches" (a closed loop needs no more). */
export class LoadSocket {
	private waiting: { match: Match; resolve: () => void } | undefined;

	private constructor(readonly ws: WebSocket) {
		ws.on("message", (data) => {
			const waiting = this.waiting;
			if (!waiting) return;
			const text = data.toString();
			if (!waiting.match(text.startsWith("{") ? JSON.parse(text) : {})) return;
			this.waiting = undefined;
			waiting.resolve();
		});
	}

	static open(url: string): Promise<LoadSocket> {
		return new Promise((resolve, reject) => {
			const ws = new WebSocket(url);
			ws.once("open", () => resolve(new LoadSocket(ws)));
			ws.once("error", reject);
		});
	}

	/** Resolves when a frame matching `match` arrives (registered before anything is sent). */
	expect(match: Match, timeoutMs = 30_000): Promise<void> {
		return new Promise((resolve, reject) => {
			const timer = setTimeout(() => reject(new Error("no matching frame in time")), timeoutMs);
			this.waiting = {
				match,
				resolve: () => {
					clearTimeout(timer);
					resolve();
				},
			};
		});
	}

	send(frame: unknown): void {
		this.ws.send(typeof frame === "string" ? frame : JSON.stringify(frame));
	}

	close(): void {
		this.ws.close();
	}
}

const PAYLOAD = "Hello, I have a question about my order.";

/** Each pair: send from one socket, time until the other (or the same, for the echo) has it. */
export async function deliveryLoop(pairs: { from: LoadSocket; to: LoadSocket; frame: (id: string) => unknown; arrived: (id: string) => Match }[], seconds: number): Promise<LoadResult> {
	const latenciesMs: number[] = [];
	let errors = 0;
	const started = performance.now();
	const deadline = started + seconds * 1000;
	await Promise.all(
		pairs.map(async ({ from, to, frame, arrived }) => {
			while (performance.now() < deadline) {
				const id = crypto.randomUUID();
				const delivered = to.expect(arrived(id));
				const t = performance.now();
				from.send(frame(id));
				try {
					await delivered;
					latenciesMs.push(performance.now() - t);
				} catch {
					errors++;
				}
			}
		}),
	);
	return { requests: latenciesMs.length, seconds: (performance.now() - started) / 1000, latenciesMs, errors };
}

export const echoPair = (socket: LoadSocket) => ({
	from: socket,
	to: socket,
	frame: (id: string) => ({ type: "send", message: { id, content: PAYLOAD } }),
	arrived: (id: string): Match => (f) => f.message?.id === id,
});

export const chatPair = (visitor: LoadSocket, agent: LoadSocket) => ({
	from: visitor,
	to: agent,
	frame: (id: string) => ({ type: "send", message: { id, content: PAYLOAD } }),
	arrived: (id: string): Match => (f) => f.type === "message" && f.message?.id === id,
});

/** Opens a chat socket and says hello; resolves when the room has answered. */
export async function chatSocket(baseUrl: string, siteId: string, chatId: string, token: string): Promise<LoadSocket> {
	const socket = await LoadSocket.open(`${baseUrl.replace(/^http/, "ws")}/v1/sites/${siteId}/chats/${chatId}/ws`);
	const synced = socket.expect((f) => f.type === "sync");
	socket.send({ type: "hello", token, visitorDataOffset: 0, agentDataOffset: 0 });
	await synced;
	return socket;
}
