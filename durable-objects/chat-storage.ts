/** The SQLite side of a durable ChatRoom: the chat's metadata row and its messages. */
import { streamOf } from "./chat-model.ts";
import type { ChatMeta } from "../src/protocol/chat-state.ts";
import type { ChatMessage } from "../src/protocol/chat.ts";

const SCHEMA_VERSION = 1;

export class ChatStorage {
	constructor(private readonly storage: DurableObjectStorage) {
		const sql = storage.sql;
		sql.exec(`CREATE TABLE IF NOT EXISTS _schema (version INTEGER NOT NULL)`);
		const current =
			sql.exec<{ version: number }>(`SELECT version FROM _schema`).toArray()[0]
				?.version ?? 0;
		if (current < 1) {
			sql.exec(
				`CREATE TABLE IF NOT EXISTS chat (k INTEGER PRIMARY KEY CHECK (k = 1), meta TEXT NOT NULL, chat_state TEXT NOT NULL)`
			);
			// Keyed by place in the stream, one B-tree per write: ids are unique in the in-memory log already.
			sql.exec(`CREATE TABLE IF NOT EXISTS messages (
				stream INTEGER NOT NULL, data_offset INTEGER NOT NULL, id TEXT NOT NULL, type INTEGER NOT NULL,
				content TEXT NOT NULL, send_time INTEGER NOT NULL, sender_id TEXT, sender_name TEXT, mac TEXT NOT NULL,
				PRIMARY KEY (stream, data_offset)) WITHOUT ROWID`);
			sql.exec(`DELETE FROM _schema`);
			sql.exec(`INSERT INTO _schema (version) VALUES (?)`, SCHEMA_VERSION);
		}
	}

	load():
		{ meta: ChatMeta; chatState: string; messages: ChatMessage[] } | undefined {
		const row = this.storage.sql
			.exec<{ meta: string; chat_state: string }>(
				`SELECT meta, chat_state FROM chat`
			)
			.toArray()[0];
		if (!row) return undefined;
		const messages = this.storage.sql
			.exec<Record<string, string | number | null>>(
				`SELECT * FROM messages ORDER BY stream, data_offset`
			)
			.toArray()
			.map((r): ChatMessage => {
				const m: ChatMessage = {
					id: String(r.id),
					type: Number(r.type) as ChatMessage["type"],
					dataOffset: Number(r.data_offset),
					content: String(r.content),
					sendTime: Number(r.send_time),
					mac: String(r.mac),
				};
				if (r.sender_id !== null) m.senderId = String(r.sender_id);
				if (r.sender_name !== null) m.senderName = String(r.sender_name);
				return m;
			});
		return {
			meta: JSON.parse(row.meta) as ChatMeta,
			chatState: row.chat_state,
			messages,
		};
	}

	/** Whether this chat's chat.end reached its queue (SPEC §8): kept beside the chat, so a restart does not announce it again. */
	get endAnnounced(): boolean {
		return this.storage.kv.get("endAnnounced") === true;
	}

	markEndAnnounced(): void {
		this.storage.kv.put("endAnnounced", true);
	}

	/** When the chat came back by a rebuild (SPEC §3: it may be one side's copy until the other side rebuilds too). */
	get restoredAt(): number | undefined {
		return this.storage.kv.get<number>("restoredAt");
	}

	setRestoredAt(at: number): void {
		this.storage.kv.put("restoredAt", at);
	}

	/** Messages came after chat.end went out and chat.transcript has not reached its queue yet. */
	get transcriptOwed(): boolean {
		return this.storage.kv.get("transcriptOwed") === true;
	}

	setTranscriptOwed(owed: boolean): void {
		this.storage.kv.put("transcriptOwed", owed);
	}

	/** One transaction: the answer leaves only after all of it is durable (output gate). */
	save(change: {
		meta?: ChatMeta;
		chatState?: string;
		messages: readonly ChatMessage[];
	}): void {
		const write = () => {
			if (change.meta && change.chatState) {
				this.storage.sql.exec(
					`INSERT INTO chat (k, meta, chat_state) VALUES (1, ?, ?) ON CONFLICT (k) DO UPDATE SET meta = excluded.meta, chat_state = excluded.chat_state`,
					JSON.stringify(change.meta),
					change.chatState
				);
			}
			for (const m of change.messages) {
				this.storage.sql.exec(
					`INSERT INTO messages (stream, data_offset, id, type, content, send_time, sender_id, sender_name, mac) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
					streamOf(m) === "visitor" ? 1 : 2,
					m.dataOffset,
					m.id,
					m.type,
					m.content,
					m.sendTime,
					m.senderId ?? null,
					m.senderName ?? null,
					m.mac
				);
			}
		};
		// A single statement is atomic on its own; the plain send is that case.
		if (change.messages.length + (change.meta ? 1 : 0) > 1)
			this.storage.transactionSync(write);
		else write();
	}
}
