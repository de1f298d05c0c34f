/**
 * Every queue of SPEC §8 is consumed here. Each message is acked after its effect, retried with
 * backoff when something outside failed, and dead-lettered with a reason when no retry can help.
 * After `max_retries` failed attempts the queue itself moves it to the dead-letter queue.
 */
import { z } from "zod";
import {
	CheckedEnvelopeSchema,
	EnvelopeSchema,
	FIRST_LEVEL_EVENTS,
} from "../src/protocol/events.ts";
import { getSiteConfig } from "../src/site-config-cache.ts";
import { MAX_BACKOFF_SECONDS, retryDelaySeconds } from "./backoff.ts";
import {
	DEAD_LETTER_QUEUE,
	recordDeadLetters,
	rejectToDeadLetter,
} from "./dead-letter.ts";
import {
	enabled,
	INTEGRATION_TABLE,
	INTEGRATIONS,
	queueNameOf,
	takes,
	targetsOf,
} from "./integrations/index.ts";
import { InFlightElsewhere, RetryLater } from "./integrations/once.ts";
import { PermanentFailure } from "./integrations/types.ts";
import { unspill } from "./spill.ts";
import type {
	CheckedEnvelope,
	Envelope,
	EventName,
} from "../src/protocol/events.ts";
import type { IntegrationName } from "./integrations/index.ts";

const FIRST_LEVEL_QUEUES = new Set([
	"chat-end",
	"offline-message-submit",
	"agent-wrapup",
	"log-events",
]);
const BY_QUEUE_NAME = new Map(
	INTEGRATIONS.map((name) => [queueNameOf(name), name])
);

const EventNameSchema = z.enum(FIRST_LEVEL_EVENTS);

export async function consumeBatch(
	batch: MessageBatch,
	env: Env
): Promise<void> {
	if (batch.queue === DEAD_LETTER_QUEUE) return recordDeadLetters(batch, env);
	const integration = BY_QUEUE_NAME.get(batch.queue);
	if (!integration && !FIRST_LEVEL_QUEUES.has(batch.queue)) {
		console.error(`queue ${batch.queue} has no consumer here; retrying`);
		return batch.retryAll();
	}
	// Each message settles itself (ack or retry); one failing in an unexpected way must not cut the others short.
	await Promise.allSettled(
		batch.messages.map((message) =>
			consumeOne(message, batch.queue, env, (envelope) =>
				integration
					? deliver(env, integration, envelope)
					: distribute(env, envelope)
			)
		)
	);
}

async function consumeOne(
	message: Message,
	queue: string,
	env: Env,
	act: (envelope: Envelope) => Promise<void>
): Promise<void> {
	try {
		const parsed = EnvelopeSchema.safeParse(message.body);
		if (!parsed.success)
			throw new PermanentFailure(
				`malformed envelope: ${z.prettifyError(parsed.error).replaceAll("\n", " ")}`
			);
		await act(parsed.data);
		message.ack();
	} catch (error) {
		const reason = error instanceof Error ? error.message : String(error);
		if (error instanceof PermanentFailure) {
			try {
				await rejectToDeadLetter(env, queue, message.body, reason);
				return message.ack();
			} catch (deadLetterError) {
				console.error(
					`${queue}: could not dead-letter a message (${reason}); retrying it`,
					deadLetterError
				);
			}
		} else if (!(error instanceof InFlightElsewhere)) {
			console.error(`${queue}: attempt ${message.attempts} failed: ${reason}`);
		}
		const base = retryDelaySeconds(env, message.attempts);
		const delaySeconds =
			error instanceof RetryLater
				? Math.min(MAX_BACKOFF_SECONDS, Math.max(base, error.afterSeconds))
				: base;
		message.retry({ delaySeconds });
	}
}

/** The envelope with its payload checked by its event's schema; a spilled one is read back from D1 first. */
async function checked(
	env: Env,
	envelope: Envelope,
	event: EventName
): Promise<CheckedEnvelope> {
	const full = await unspill(env.DB, envelope);
	const parsed = CheckedEnvelopeSchema.safeParse({ ...full, event });
	if (!parsed.success)
		throw new PermanentFailure(
			`malformed ${event} payload: ${z.prettifyError(parsed.error).replaceAll("\n", " ")}`
		);
	return parsed.data;
}

/**
 * KV is eventually consistent (up to a minute) and each isolate caches configs for 30 s, so a new
 * site or a just-enabled integration can look missing for a while: a young message waits for the
 * config to catch up; one that still finds it missing after that is dead-lettered with the reason.
 */
const CONFIG_SETTLE_MS = 5 * 60_000;
const CONFIG_RECHECK_SECONDS = 60;

function notYet(envelope: Envelope, reason: string): Error {
	return Date.now() - envelope.publishedAt < CONFIG_SETTLE_MS
		? new RetryLater(`${reason}; checking again`, CONFIG_RECHECK_SECONDS)
		: new PermanentFailure(reason);
}

async function siteConfig(env: Env, envelope: Envelope) {
	const config = await getSiteConfig(env.SITE_CONFIG, envelope.siteId);
	if (!config)
		throw notYet(envelope, `site ${envelope.siteId} has no configuration`);
	return config;
}

/** The distributor: a first-level event becomes one second-level message per enabled integration that takes it. */
async function distribute(env: Env, envelope: Envelope): Promise<void> {
	const event = EventNameSchema.safeParse(envelope.name);
	if (!event.success)
		throw new PermanentFailure(`unknown event ${envelope.name}`);
	await checked(env, envelope, event.data);
	const targets = targetsOf(event.data, await siteConfig(env, envelope));
	// The envelope goes on as it came (a spilled payload stays in D1), under its second-level name.
	await Promise.all(
		targets.map((name) =>
			INTEGRATION_TABLE[name]
				.queue(env)
				.send(
					{ ...envelope, name: `${event.data}.${name}` },
					{ contentType: "json" }
				)
		)
	);
}

async function deliver(
	env: Env,
	integration: IntegrationName,
	envelope: Envelope
): Promise<void> {
	const dot = envelope.name.lastIndexOf(".");
	const event = EventNameSchema.safeParse(envelope.name.slice(0, dot));
	if (
		!event.success ||
		envelope.name.slice(dot + 1) !== integration ||
		!takes(integration, event.data)
	) {
		throw new PermanentFailure(
			`${envelope.name} does not belong on ${queueNameOf(integration)}`
		);
	}
	const config = await siteConfig(env, envelope);
	if (!enabled(integration, config))
		throw notYet(envelope, `${integration} is off for ${envelope.siteId}`);
	await INTEGRATION_TABLE[integration].deliver({
		env,
		envelope: await checked(env, envelope, event.data),
		key: `${envelope.name}:${envelope.uniqueId}`,
		config,
	});
}
