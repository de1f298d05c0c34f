/**
 * WebSocket load (SPEC §11): visitor → agent delivery across many chats at once, against a bare
 * WebSocket echo through a Durable Object measured in the same run.
 */
import WebSocket from "ws";
import { acceptChat, benchAgents, inBatches, startChat } from "./setup.ts";
import type { LoadResult } from "./http-load.ts";

/** A socket that can wait for the frame carrying a given message id, or for the next frame of a type. */
export class LoadSocket {
	private readonly byId = new Map<string, () => void>();
	private byType: { type: string; resolve: () => void } | undefined;
	/** What to do when the room asks for a rebuild (it hibernated and, in memory mode, lost the chat). */
	onRebuild: (() => void) | undefined;

	private constructor(readonly ws: WebSocket) {
		ws.on("message", (data) => {
			const text = data.toString();
			if (!text.startsWith("{")) return;
			const frame = JSON.parse(text) as {
				type?: string;
				message?: { id?: string };
			};
			if (frame.type === "rebuild") this.onRebuild?.();
			const id = frame.message?.id;
			// The echo sends our "send" frame back; the chat room sends the agent a "message" frame.
			const waiter =
				id !== undefined && frame.type !== "ack"
					? this.byId.get(id)
					: undefined;
			if (waiter) {
				this.byId.delete(id!);
				return waiter();
			}
			if (this.byType && frame.type === this.byType.type) {
				const { resolve } = this.byType;
				this.byType = undefined;
				resolve();
			}
		});
	}

	static open(url: string): Promise<LoadSocket> {
		return new Promise((resolve, reject) => {
			const ws = new WebSocket(url);
			ws.once("open", () => resolve(new LoadSocket(ws)));
			ws.once("error", reject);
		});
	}

	waitFor(id: string, timeoutMs = 30_000): Promise<void> {
		return withTimeout(
			new Promise<void>((resolve) => this.byId.set(id, resolve)),
			timeoutMs,
			() => this.byId.delete(id)
		);
	}

	waitForType(type: string, timeoutMs = 30_000): Promise<void> {
		return withTimeout(
			new Promise<void>((resolve) => (this.byType = { type, resolve })),
			timeoutMs,
			() => (this.byType = undefined)
		);
	}

	send(frame: unknown): void {
		this.ws.send(JSON.stringify(frame));
	}

	close(): void {
		this.ws.close();
	}
}

function withTimeout(
	promise: Promise<void>,
	ms: number,
	onTimeout: () => void
): Promise<void> {
	return new Promise((resolve, reject) => {
		const timer = setTimeout(() => {
			onTimeout();
			reject(new Error("no frame in time"));
		}, ms);
		promise.then(() => {
			clearTimeout(timer);
			resolve();
		});
	});
}

const PAYLOAD = "Hello, I have a question about my order.";

/** Send from one socket, time until the other (or the same one, for the echo) has the message. */
export interface Pair {
	from: LoadSocket;
	to: LoadSocket;
}

/** A message that a rebuild request turned away never arrives: counted as an error after this long. */
const DELIVERY_TIMEOUT_MS = 5000;

async function deliverOnce(pair: Pair, result: LoadResult): Promise<void> {
	const id = crypto.randomUUID();
	const delivered = pair.to.waitFor(id, DELIVERY_TIMEOUT_MS);
	const t = performance.now();
	pair.from.send({ type: "send", message: { id, content: PAYLOAD } });
	try {
		await delivered;
		result.latenciesMs.push(performance.now() - t);
		result.requests++;
	} catch {
		result.errors++;
	}
}

const emptyResult = (): LoadResult => ({
	requests: 0,
	seconds: 0,
	latenciesMs: [],
	errors: 0,
});

/** Closed loop: every pair sends its next message as soon as the last one arrived (saturation). */
export async function closedDelivery(
	pairs: Pair[],
	seconds: number
): Promise<LoadResult> {
	const result = emptyResult();
	const started = performance.now();
	const deadline = started + seconds * 1000;
	await Promise.all(
		pairs.map(async (pair) => {
			while (performance.now() < deadline) await deliverOnce(pair, result);
		})
	);
	result.seconds = (performance.now() - started) / 1000;
	return result;
}

/** Open loop: every pair sends `perSecond` messages a second whatever happens, from a random phase (people chatting). */
export async function openDelivery(
	pairs: Pair[],
	perSecond: number,
	seconds: number
): Promise<LoadResult> {
	const result = emptyResult();
	const interval = 1000 / perSecond;
	const started = performance.now();
	const deadline = started + seconds * 1000;
	await Promise.all(
		pairs.map(async (pair) => {
			const inFlight: Promise<void>[] = [];
			for (
				let at = started + Math.random() * interval;
				at < deadline;
				at += interval
			) {
				await new Promise((r) =>
					setTimeout(r, Math.max(0, at - performance.now()))
				);
				inFlight.push(deliverOnce(pair, result));
			}
			await Promise.all(inFlight);
		})
	);
	result.seconds = (performance.now() - started) / 1000;
	return result;
}

/**
 * Opens a chat socket and says hello; resolves when the room has answered. With the chat's sealed
 * state, the socket answers a rebuild request as a client would, less the history it does not keep.
 */
export async function chatSocket(
	baseUrl: string,
	siteId: string,
	chatId: string,
	token: string,
	chatState?: string
): Promise<LoadSocket> {
	const socket = await LoadSocket.open(
		`${baseUrl.replace(/^http/, "ws")}/v1/sites/${siteId}/chats/${chatId}/ws`
	);
	if (chatState)
		socket.onRebuild = () =>
			socket.send({
				type: "rebuild",
				chatState,
				visitorDataOffset: 0,
				agentDataOffset: 0,
				messages: [],
			});
	const synced = socket.waitForType("sync");
	socket.send({
		type: "hello",
		token,
		visitorDataOffset: 0,
		agentDataOffset: 0,
	});
	await synced;
	return socket;
}

/**
 * `count` chats on a deployment, each with a visitor and an agent socket that said hello; every
 * socket also goes into `sockets`, to be closed. The chats go to the bench agents from `firstAgent`
 * on, 100 each (their maxChats): a second call on the same deployment starts past the agents the
 * first one filled.
 */
export async function chatPairs(
	url: string,
	count: number,
	sockets: LoadSocket[],
	firstAgent = 0
): Promise<Pair[]> {
	const agentTokens = (
		await benchAgents(url, firstAgent + Math.ceil(count / 100))
	).slice(firstAgent);
	return inBatches(count, 25, async (i) => {
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

/** `count` sockets to the echo, each its own Durable Object (`${prefix}-${i}`); a pair is the socket and itself. */
export function echoPairs(
	url: string,
	count: number,
	sockets: LoadSocket[],
	prefix = "chat"
): Promise<Pair[]> {
	return inBatches(count, 25, async (i) => {
		const socket = await LoadSocket.open(
			`${url.replace(/^http/, "ws")}/ws/${prefix}-${i}`
		);
		sockets.push(socket);
		return { from: socket, to: socket };
	});
}
