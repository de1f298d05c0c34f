/** Small helpers of the chaos run: timing, bounded concurrency, and short descriptions for its traces. */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { LiveChatError, Unreachable } from "../client/index.ts";
import type { LiveChatClient } from "../client/index.ts";
import type { ChatMessage } from "../src/protocol/chat.ts";

const root = fileURLToPath(new URL("..", import.meta.url));

export const sleep = (ms: number) =>
	new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
export const between = (low: number, high: number) =>
	low + Math.random() * (high - low);
export const pick = <T>(items: readonly T[]): T =>
	items[Math.floor(Math.random() * items.length)]!;

export async function retry<T>(
	work: () => Promise<T>,
	attempts = 5
): Promise<T> {
	for (let attempt = 1; ; attempt++) {
		try {
			return await work();
		} catch (error) {
			if (attempt >= attempts) throw error;
			await sleep(500 * attempt);
		}
	}
}

export async function forEachLimit<T>(
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

export class TimedOut extends Error {}

/** The promise, or a TimedOut after `ms` (the work itself goes on: nothing can cancel a client call). */
export async function within<T>(
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

export function errorKind(error: unknown): string {
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

/** ADMIN_TOKEN from .dev.vars, which the deployments read too (scripts/start.mjs creates it when missing). */
export function readAdminToken(): string {
	const text = readFileSync(join(root, ".dev.vars"), "utf8");
	const match = /^\s*(?:export\s+)?ADMIN_TOKEN\s*=\s*["']?([^"'\s#]+)/m.exec(
		text
	);
	if (!match?.[1]) throw new Error(".dev.vars has no ADMIN_TOKEN");
	return match[1];
}

/** For the trace of a client that got stuck: what the SDK is in the middle of. */
export function clientState(client: LiveChatClient): string {
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

export const brief = (m: ChatMessage) => ({
	id: m.id,
	type: m.type,
	dataOffset: m.dataOffset,
	sendTime: m.sendTime,
	content: m.content,
});

export function describeMessages(messages: ChatMessage[]): string {
	if (messages.length === 0) return "[]";
	const shown = messages
		.slice(0, 8)
		.map(
			(m) => `${m.type === 1 ? "v" : "a"}${m.dataOffset}:${m.id.slice(0, 8)}`
		);
	return `[${shown.join(" ")}${messages.length > 8 ? ` …+${messages.length - 8}` : ""}]`;
}

export function describeFrame(text: string): string {
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
