/** Persistence into D1: transcripts, offline messages, wrap-ups, ratings, log events (SPEC §8). */
import { deliveryIdOf, markDoneStatement, skipRepeat } from "../deliveries.ts";
import { RetryLater } from "./once.ts";
import { PermanentFailure } from "./types.ts";
import type {
	ChatEndPayload,
	ChatTranscriptPayload,
	CheckedEnvelope,
	EventName,
	TranscriptMessage,
} from "../../src/protocol/events.ts";
import type { Delivery } from "./types.ts";

/**
 * Messages go in as JSON arrays, one statement per chunk: D1 binds at most 100 values a statement
 * and counts every statement of a batch, so a row per placeholder set would take hundreds of
 * statements for a long chat. A chunk stays under D1's 2 MB value limit even at 3 bytes a character.
 */
const CHUNK_CHARS = 500_000;

/**
 * A stored chat only grows (SPEC §3): its messages and agents are merged in by id, so writing the
 * same transcript again changes nothing. A repeat of these is still counted, and still merged: a
 * second deployment ending the same chat publishes chat.end under the same uniqueId, and its copy
 * may hold messages the first one lacked.
 */
const MERGED: ReadonlySet<EventName> = new Set(["chat.end", "chat.transcript"]);

/** A chat.transcript that comes before its chat's chat.end (the queues keep no order) waits for it. */
const CHAT_END_WAIT_SECONDS = 10;

export async function persist({ env, envelope, key }: Delivery): Promise<void> {
	const repeat = await skipRepeat(env.DB, key);
	if (repeat && !MERGED.has(envelope.event)) return;
	const writes = await statementsFor(env.DB, envelope);
	// The rows and the mark in one transaction: either the effect happened once, or not at all.
	await env.DB.batch(
		repeat
			? writes
			: [...writes, markDoneStatement(env.DB, key, await deliveryIdOf(key))]
	);
}

async function statementsFor(
	db: D1Database,
	envelope: CheckedEnvelope
): Promise<D1PreparedStatement[]> {
	const { siteId } = envelope;
	switch (envelope.event) {
		case "chat.end":
			return chatEndStatements(db, envelope.payload);
		case "chat.transcript":
			return chatTranscriptStatements(db, siteId, envelope.payload);
		case "offlineMessage.submit": {
			const m = envelope.payload;
			return [
				db
					.prepare(
						`INSERT OR IGNORE INTO offline_messages (id, site_id, name, email, phone, department, message, submitted_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`
					)
					.bind(
						m.id,
						siteId,
						m.name,
						m.email,
						m.phone,
						m.department,
						m.message,
						m.submittedAt
					),
			];
		}
		case "agent.wrapup": {
			const w = envelope.payload;
			return [
				latestWins(db, "wrapups", {
					key: { chat_id: w.chatId, agent_id: w.agentId },
					fixed: { site_id: siteId },
					latest: {
						category: w.category,
						comment: w.comment,
						wrapped_up_at: w.wrappedUpAt,
					},
				}),
			];
		}
		case "visitor.rating": {
			const r = envelope.payload;
			return [
				latestWins(db, "ratings", {
					key: { chat_id: r.chatId },
					fixed: { site_id: siteId, visitor_id: r.visitorId },
					latest: {
						rating: r.rating,
						comment: r.comment,
						rated_at: r.ratedAt,
					},
				}),
			];
		}
		default:
			return [
				db
					.prepare(
						`INSERT OR IGNORE INTO event_log (unique_id, site_id, name, payload, published_at) VALUES (?, ?, ?, ?, ?)`
					)
					.bind(
						envelope.uniqueId,
						siteId,
						envelope.event,
						JSON.stringify(envelope.payload),
						envelope.publishedAt
					),
			];
	}
}

type Columns = Record<string, string | number | null>;

/**
 * One row per `key`; a later one (by the last of the `latest` columns, its time) replaces the
 * `latest` columns of an earlier one, whatever order the queue brings them in. `fixed` columns keep
 * what the first row wrote. Table and column names come from this file, never from a message.
 */
function latestWins(
	db: D1Database,
	table: string,
	row: { key: Columns; fixed: Columns; latest: Columns }
): D1PreparedStatement {
	const columns = [row.key, row.fixed, row.latest].flatMap(Object.keys);
	const latest = Object.keys(row.latest);
	const time = latest.at(-1)!;
	return db
		.prepare(
			`INSERT INTO ${table} (${columns.join(", ")}) VALUES (${columns.map(() => "?").join(", ")})
			 ON CONFLICT (${Object.keys(row.key).join(", ")}) DO UPDATE SET ${latest.map((c) => `${c} = excluded.${c}`).join(", ")}
			 WHERE excluded.${time} >= ${table}.${time}`
		)
		.bind(...[row.key, row.fixed, row.latest].flatMap(Object.values));
}

function chatEndStatements(
	db: D1Database,
	chat: ChatEndPayload
): D1PreparedStatement[] {
	const { transcript, ...summary } = chat;
	// The first chat.end stored names the chat (visitor, prechat, ticket, end time); later ones only add to it.
	const row = db
		.prepare(
			`INSERT OR IGNORE INTO chats (id, site_id, visitor_id, visitor_name, visitor_email, agent_ids, request_time, start_time, end_time, message_count, payload)
			 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
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
			JSON.stringify(summary)
		);
	return [
		row,
		...mergeStatements(db, chat.siteId, chat.id, chat.agentIds, transcript),
	];
}

/**
 * Waits (retries) for the chat's own chat.end rather than making the chat up from this payload:
 * chat.end names the chat (visitor, prechat, ticket), and the stored end time is what the agents'
 * history index is keyed by. One that never comes (persistence off then, a dead-lettered end) ends
 * this one in the dead-letter queue too, after the queue's retries, with nothing lost.
 */
async function chatTranscriptStatements(
	db: D1Database,
	siteId: string,
	chat: ChatTranscriptPayload
): Promise<D1PreparedStatement[]> {
	const stored = await db
		.prepare(`SELECT site_id FROM chats WHERE id = ?`)
		.bind(chat.id)
		.first<{ site_id: string }>();
	if (!stored)
		throw new RetryLater(
			`chat ${chat.id} is not persisted yet: its chat.end comes first`,
			CHAT_END_WAIT_SECONDS
		);
	if (stored.site_id !== siteId)
		throw new PermanentFailure(`chat ${chat.id} is not a chat of ${siteId}`);
	return mergeStatements(db, siteId, chat.id, chat.agentIds, chat.transcript);
}

/**
 * Adds to a stored chat (of this site) what it lacks, removing nothing: messages by id, agents (to
 * `agent_ids`, first seen first, and to their history index under the stored end time), and the
 * message count recounted from the rows.
 */
function mergeStatements(
	db: D1Database,
	siteId: string,
	chatId: string,
	agentIds: readonly string[],
	transcript: readonly TranscriptMessage[]
): D1PreparedStatement[] {
	const agents = JSON.stringify(agentIds);
	const statements = [
		db
			.prepare(
				`INSERT OR IGNORE INTO chat_agents (site_id, agent_id, end_time, chat_id)
				 SELECT chats.site_id, agent.value, chats.end_time, chats.id FROM chats, json_each(?3) AS agent WHERE chats.id = ?1 AND chats.site_id = ?2`
			)
			.bind(chatId, siteId, agents),
	];
	const insert = db.prepare(
		`INSERT OR IGNORE INTO chat_messages (chat_id, id, type, data_offset, content, send_time, sender_id, sender_name)
		 SELECT ?1, json_extract(value, '$.id'), json_extract(value, '$.type'), json_extract(value, '$.dataOffset'), json_extract(value, '$.content'),
		        json_extract(value, '$.sendTime'), json_extract(value, '$.senderId'), json_extract(value, '$.senderName')
		 FROM json_each(?2) WHERE EXISTS (SELECT 1 FROM chats WHERE id = ?1 AND site_id = ?3)`
	);
	for (const chunk of jsonChunks(transcript))
		statements.push(insert.bind(chatId, chunk, siteId));
	statements.push(
		db
			.prepare(
				`UPDATE chats SET
				   agent_ids = (
				     SELECT json_group_array(value ORDER BY first) FROM (
				       SELECT value, MIN(source * 1000000 + position) AS first FROM (
				         SELECT value, 0 AS source, key AS position FROM json_each(chats.agent_ids)
				         UNION ALL SELECT value, 1, key FROM json_each(?3)
				       ) GROUP BY value
				     )
				   ),
				   message_count = (SELECT COUNT(*) FROM chat_messages WHERE chat_id = chats.id)
				 WHERE id = ?1 AND site_id = ?2`
			)
			.bind(chatId, siteId, agents)
	);
	return statements;
}

/** JSON arrays of consecutive messages, each under CHUNK_CHARS (a single larger message gets its own). */
function* jsonChunks(
	messages: readonly TranscriptMessage[]
): Generator<string> {
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
