/** Persistence into D1: transcripts, offline messages, wrap-ups, ratings, log events (SPEC §8). */
import type { ChatEndPayload, OfflineMessagePayload, RatingPayload, TranscriptMessage, WrapupPayload } from "../../src/protocol/events.ts";
import { skipRepeat, markDoneStatement, deliveryIdOf } from "../deliveries.ts";
import type { Delivery } from "./types.ts";

/**
 * Messages go in as JSON arrays, one statement per chunk: D1 binds at most 100 values a statement
 * and counts every statement of a batch, so a row per placeholder set would take hundreds of
 * statements for a long chat. A chunk stays under D1's 2 MB value limit even at 3 bytes a character.
 */
const CHUNK_CHARS = 500_000;

export async function persist(delivery: Delivery): Promise<void> {
	const { env, key } = delivery;
	if (await skipRepeat(env.DB, key)) return;
	const writes = statementsFor(delivery);
	// The rows and the mark in one transaction: either the effect happened once, or not at all.
	await env.DB.batch([...writes, markDoneStatement(env.DB, key, await deliveryIdOf(key))]);
}

function statementsFor({ env, event, envelope }: Delivery): D1PreparedStatement[] {
	const db = env.DB;
	switch (event) {
		case "chat.end":
			return chatStatements(db, envelope.payload as ChatEndPayload);
		case "offlineMessage.submit": {
			const m = envelope.payload as OfflineMessagePayload;
			return [
				db
					.prepare(
						`INSERT OR IGNORE INTO offline_messages (id, site_id, name, email, phone, department, message, submitted_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
					)
					.bind(m.id, envelope.siteId, m.name, m.email, m.phone, m.department, m.message, m.submittedAt),
			];
		}
		case "agent.wrapup": {
			const w = envelope.payload as WrapupPayload;
			// A later wrap-up replaces an earlier one, whatever order the queue brings them in.
			return [
				db
					.prepare(
						`INSERT INTO wrapups (chat_id, agent_id, site_id, category, comment, wrapped_up_at) VALUES (?, ?, ?, ?, ?, ?)
						 ON CONFLICT (chat_id, agent_id) DO UPDATE SET category = excluded.category, comment = excluded.comment, wrapped_up_at = excluded.wrapped_up_at
						 WHERE excluded.wrapped_up_at >= wrapups.wrapped_up_at`,
					)
					.bind(w.chatId, w.agentId, envelope.siteId, w.category, w.comment, w.wrappedUpAt),
			];
		}
		case "visitor.rating": {
			const r = envelope.payload as RatingPayload;
			return [
				db
					.prepare(
						`INSERT INTO ratings (chat_id, site_id, visitor_id, rating, comment, rated_at) VALUES (?, ?, ?, ?, ?, ?)
						 ON CONFLICT (chat_id) DO UPDATE SET rating = excluded.rating, comment = excluded.comment, rated_at = excluded.rated_at
						 WHERE excluded.rated_at >= ratings.rated_at`,
					)
					.bind(r.chatId, envelope.siteId, r.visitorId, r.rating, r.comment, r.ratedAt),
			];
		}
		default:
			return [
				db
					.prepare(`INSERT OR IGNORE INTO event_log (unique_id, site_id, name, payload, published_at) VALUES (?, ?, ?, ?, ?)`)
					.bind(envelope.uniqueId, envelope.siteId, event, JSON.stringify(envelope.payload), envelope.publishedAt),
			];
	}
}

function chatStatements(db: D1Database, chat: ChatEndPayload): D1PreparedStatement[] {
	const { transcript, ...summary } = chat;
	const statements = [
		db
			.prepare(
				`INSERT OR IGNORE INTO chats (id, site_id, visitor_id, visitor_name, visitor_email, agent_ids, request_time, start_time, end_time, message_count, payload)
				 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			)
			.bind(
				chat.id,
				chat.siteId,
				chat.visitorId,
				chat.visitor.name ?? chat.prechat.name,
				chat.visitor.email ?? chat.prechat.email,
				JSON.stringify(chat.agentIds),
				chat.requestTime,
				chat.startTime,
				chat.endTime,
				transcript.length,
				JSON.stringify(summary),
			),
	];
	const tookPart = db.prepare(`INSERT OR IGNORE INTO chat_agents (site_id, agent_id, end_time, chat_id) VALUES (?, ?, ?, ?)`);
	for (const agentId of chat.agentIds) statements.push(tookPart.bind(chat.siteId, agentId, chat.endTime, chat.id));
	const insert = db.prepare(
		`INSERT OR IGNORE INTO chat_messages (chat_id, id, type, data_offset, content, send_time, sender_id, sender_name)
		 SELECT ?1, json_extract(value, '$.id'), json_extract(value, '$.type'), json_extract(value, '$.dataOffset'), json_extract(value, '$.content'),
		        json_extract(value, '$.sendTime'), json_extract(value, '$.senderId'), json_extract(value, '$.senderName')
		 FROM json_each(?2)`,
	);
	for (const chunk of jsonChunks(transcript)) statements.push(insert.bind(chat.id, chunk));
	return statements;
}

/** JSON arrays of consecutive messages, each under CHUNK_CHARS (a single larger message gets its own). */
function* jsonChunks(messages: readonly TranscriptMessage[]): Generator<string> {
	let chunk: string[] = [];
	let size = 0;
	for (const message of messages) {
		const json = JSON.stringify(message);
		if (chunk.length > 0 && size + json.length > CHUNK_CHARS) {
			yield `[${chunk.join(",")}]`;
			chunk = [];
			size = 0;
		}
		chunk.push(json);
		size += json.length + 1;
	}
	if (chunk.length > 0) yield `[${chunk.join(",")}]`;
}
