/**
 * The seed's MQ interface on Cloudflare Queues (SPEC §8): `publish(name, uniqueId, payload)` sends
 * the envelope to the event's first-level queue. Consumers find repeats by `uniqueId`, so
 * publishing the same event twice (a retried end, a second deployment) is safe.
 */
import { spillIfLarge } from "./spill.ts";
import type { Envelope, EventName } from "../src/protocol/events.ts";

/** First-level queues: one per event family; every log event shares one. */
function firstLevelQueue(env: Env, name: EventName): Queue {
	switch (name) {
		// A chat's later messages travel with its end.
		case "chat.end":
		case "chat.transcript":
			return env.Q_CHAT_END;
		case "offlineMessage.submit":
			return env.Q_OFFLINE_MESSAGE;
		case "agent.wrapup":
			return env.Q_AGENT_WRAPUP;
		default:
			return env.Q_LOG_EVENTS;
	}
}

export interface Publisher {
	publish(
		name: EventName,
		uniqueId: string,
		payload: unknown
	): Promise<Envelope>;
}

export function publisher(env: Env, siteId: string): Publisher {
	return {
		async publish(name, uniqueId, payload) {
			const envelope: Envelope = {
				uniqueId,
				name,
				siteId,
				payload,
				publishedAt: Date.now(),
			};
			await firstLevelQueue(env, name).send(
				await spillIfLarge(env.DB, envelope),
				{ contentType: "json" }
			);
			return envelope;
		},
	};
}

/** Every deployment derives the same id for a chat's end, so the end takes effect once (SPEC §8). */
export const chatEndId = (chatId: string) => `chat.end:${chatId}`;

/**
 * Messages a chat gained after its end (SPEC §3), named by the offsets the room then holds: every
 * deployment that reaches the same copy publishes the same id, and each growth is a new event.
 */
export const chatTranscriptId = (
	chatId: string,
	visitorDataOffset: number,
	agentDataOffset: number
) => `chat.transcript:${chatId}:${visitorDataOffset}:${agentDataOffset}`;

/**
 * `<name>:<scope…>:<id>`. A client that sends an `id` (a UUID) makes its retries one event; without
 * one each request is its own. Not a hash of the content: a visitor may rate 5, then 3, then 5
 * again, and persistence keeps the latest by its time. The scope (site, chat, …) keeps one site's
 * ids from ever making another site's event a "repeat".
 */
export const eventId = (
	name: EventName,
	scope: string[],
	clientId: string = crypto.randomUUID()
) => [name, ...scope, clientId].join(":");
