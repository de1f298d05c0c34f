import {
	createExecutionContext,
	createMessageBatch,
	env,
	getQueueResult,
} from "cloudflare:test";
import { inject } from "vitest";
import { consumeBatch } from "../queues/consumer.ts";
import { chatEndId } from "../queues/publisher.ts";
import { api, json } from "./helpers.ts";
import { WAIT_MS } from "./waiting.ts";
import type {
	EventName,
	OfflineMessagePayload,
} from "../src/protocol/events.ts";
import type { ReceivedRequest } from "./receiver-setup.ts";

/** Polls until `probe` gives something: the queues deliver on their own time. */
export async function waitFor<T>(
	what: string,
	probe: () => Promise<T | undefined | null | false>,
	timeoutMs = WAIT_MS
): Promise<T> {
	const deadline = Date.now() + timeoutMs;
	for (;;) {
		const value = await probe();
		if (value) return value;
		if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
		await new Promise((r) => setTimeout(r, 100));
	}
}

/** A fresh place on the loopback receiver: `script` is `ok`, `fail-<n>`, `always-fail` or `slow-<ms>`. */
export function receiver(script = "ok") {
	const id = crypto.randomUUID();
	const base = `${inject("receiverUrl")}/${id}/${script}`;
	return {
		base,
		async requests(): Promise<ReceivedRequest[]> {
			const res = await fetch(`${inject("receiverUrl")}/_requests/${id}`);
			return res.json<ReceivedRequest[]>();
		},
	};
}

export async function endChat(
	siteId: string,
	chatId: string,
	token: string,
	offsets: [number, number] = [0, 0]
) {
	const res = await api(`/sites/${siteId}/chats/${chatId}/end`, {
		method: "POST",
		token,
		offsets,
	});
	return { status: res.status, body: await res.json<{ code: number }>() };
}

export async function deliveryState(key: string) {
	return env.DB.prepare(
		`SELECT state, attempts, delivery_id AS deliveryId, last_error AS lastError FROM deliveries WHERE key = ?`
	)
		.bind(key)
		.first<{
			state: string;
			attempts: number;
			deliveryId: string;
			lastError: string | null;
		}>();
}

export async function deadLetters(uniqueId: string) {
	const { results } = await env.DB.prepare(
		`SELECT queue, name, reason FROM dead_letters WHERE unique_id = ? ORDER BY id`
	)
		.bind(uniqueId)
		.all<{ queue: string; name: string; reason: string }>();
	return results;
}

export const postJson = (path: string, body: unknown, token?: string) =>
	api(path, {
		method: "POST",
		token,
		body: typeof body === "string" ? body : json(body),
	});

/** Waits until the delivery stored under `key` is done. */
export const delivered = (key: string) =>
	waitFor(key, async () => (await deliveryState(key))?.state === "done");

/** Waits until a chat's chat.end has reached D1 (persistence). */
export const persisted = (chatId: string) =>
	delivered(`chat.end.persistence:${chatEndId(chatId)}`);

/** Email and ticket switched on, as most end-of-chat tests have them. */
export const mailAndTicket = {
	email: { enabled: true, to: ["support@example.com"] },
	ticket: { enabled: true },
};

/** Integration settings pointed at a loopback receiver (see `receiver`). */
export const webhookAt = (hook: { base: string }) => ({
	enabled: true,
	url: `${hook.base}/hook`,
	secret: "webhook-secret-0123456789",
});
const salesforceAt = (to: { base: string }) => ({
	enabled: true,
	baseUrl: to.base,
	accessToken: "sf-token",
});
const zendeskAt = (to: { base: string }) => ({
	enabled: true,
	baseUrl: to.base,
	email: "ops@example.com",
	apiToken: "zd-token",
});

/** Markers go to the dead-letter queue under this site, apart from every test's own. */
const MARKER_SITE = "queue-marker";

/**
 * Once this resolves, every message sent to these queues before the call has had its first attempt:
 * a check that something never arrives, without waiting a while to see. A queue hands its consumer
 * one batch at a time, in the order the messages were sent (the local queues do). So a marker no
 * consumer can take is sent through each queue, and its dead letter awaited (it was read); then a
 * second, which the queue cannot hand over before the first one's batch, and so everything sent
 * before it, is done. A first-level queue's distributor has sent its second-level messages when its
 * batch is done: drain the first level, then the second.
 */
export async function queuesDrained(...queues: Queue[]): Promise<void> {
	await Promise.all(
		queues.map(async (queue) => {
			for (let marker = 0; marker < 2; marker++) {
				const uniqueId = `marker-${crypto.randomUUID()}`;
				// Not an envelope (no payload): the consumer rejects it to the dead-letter queue at once.
				await queue.send(
					{ name: "queue.marker", uniqueId, siteId: MARKER_SITE },
					{ contentType: "json" }
				);
				await waitFor(
					`the marker ${uniqueId}`,
					async () => (await deadLetters(uniqueId)).length > 0
				);
			}
		})
	);
}

/** The second-level queues, one per integration. */
export const deliveryQueues = () => [
	env.Q_PERSISTENCE,
	env.Q_EMAIL,
	env.Q_TICKET,
	env.Q_WEBHOOK,
	env.Q_SALESFORCE,
	env.Q_ZENDESK,
];

/** How many repeats of a delivery its consumer has skipped. */
export const repeatsOf = async (key: string) =>
	(await env.DB.prepare(`SELECT repeats FROM deliveries WHERE key = ?`)
		.bind(key)
		.first<number>("repeats")) ?? 0;

export type Logged = Record<string, unknown> & { siteId: string };

/**
 * Every log event published so far is in D1 (or was refused there): the log queue, then persistence,
 * drained (see queuesDrained). Called once a test has done what it logs, an extra event shows in
 * what `logged` reads after it.
 */
export async function logsDrained(): Promise<void> {
	await queuesDrained(env.Q_LOG_EVENTS);
	await queuesDrained(env.Q_PERSISTENCE);
}

/** The site's events of this name in D1, once `count` have arrived (after logsDrained, exactly those). */
export async function logged(
	siteId: string,
	name: EventName,
	count: number
): Promise<Logged[]> {
	const read = async () =>
		(
			await env.DB.prepare(
				`SELECT payload FROM event_log WHERE site_id = ? AND name = ? ORDER BY published_at, unique_id`
			)
				.bind(siteId, name)
				.all<{ payload: string }>()
		).results.map((row) => JSON.parse(row.payload) as Logged);
	return waitFor(`${count} ${name} of ${siteId}`, async () => {
		const events = await read();
		return events.length >= count && events;
	});
}

/** One attempt by the consumer at one message, as the queue would make it: its result and the retries it asked for. */
export async function deliverOnce(queue: string, body: unknown, id = "m1") {
	const batch = createMessageBatch(queue, [
		{ id, timestamp: new Date(), attempts: 1, body },
	]);
	const asked: (QueueRetryOptions | undefined)[] = [];
	const [message] = batch.messages;
	const retry = message!.retry.bind(message);
	Object.defineProperty(message, "retry", {
		value: (options?: QueueRetryOptions) => (
			asked.push(options),
			retry(options)
		),
	});
	const ctx = createExecutionContext();
	await consumeBatch(batch, env);
	return { result: await getQueueResult(batch, ctx), asked };
}

/** An offline message as the visitor's form leaves it; its uniqueId is `offlineMessage.submit:<siteId>:<id>`. */
export const offlineMessage = (siteId: string): OfflineMessagePayload => ({
	id: crypto.randomUUID(),
	siteId,
	name: "Olga",
	email: "olga@example.com",
	phone: null,
	department: null,
	message: "Call me back",
	submittedAt: Date.now(),
});

/** Every integration switched on, each outside one pointed at its own receiver. */
export function everyIntegration() {
	const hook = receiver();
	const salesforce = receiver();
	const zendesk = receiver();
	return {
		hook,
		salesforce,
		zendesk,
		integrations: {
			...mailAndTicket,
			webhook: webhookAt(hook),
			salesforce: salesforceAt(salesforce),
			zendesk: zendeskAt(zendesk),
		},
	};
}

/** The `n` a `SELECT COUNT(*) AS n …` query of D1 answers. */
export const countOf = (sql: string, ...values: unknown[]) =>
	env.DB.prepare(sql)
		.bind(...values)
		.first<number>("n");

/** The first row a D1 query answers. */
export const rowOf = (sql: string, ...values: unknown[]) =>
	env.DB.prepare(sql)
		.bind(...values)
		.first();

/** The chat.end payload persistence stored for a chat. */
export const storedPayload = async (chatId: string) =>
	JSON.parse(
		(await env.DB.prepare(`SELECT payload FROM chats WHERE id = ?`)
			.bind(chatId)
			.first<string>("payload"))!
	);

/** The rating persistence stored for a chat. */
export const storedRating = (chatId: string) =>
	rowOf(`SELECT rating, comment FROM ratings WHERE chat_id = ?`, chatId);
