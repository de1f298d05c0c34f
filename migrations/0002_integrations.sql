-- What the queue consumers write (SPEC §8): transcripts, offline messages, tickets, wrap-ups,
-- ratings, log events, and the bookkeeping that makes each effect happen once.

-- One row per ended chat; `payload` is the chat.end payload without its transcript.
CREATE TABLE chats (
	id TEXT PRIMARY KEY,
	site_id TEXT NOT NULL,
	visitor_id TEXT NOT NULL,
	visitor_name TEXT,
	visitor_email TEXT,
	agent_ids TEXT NOT NULL,
	request_time INTEGER NOT NULL,
	start_time INTEGER,
	end_time INTEGER NOT NULL,
	message_count INTEGER NOT NULL,
	payload TEXT NOT NULL
);
CREATE INDEX chats_by_site_end ON chats (site_id, end_time DESC, id);

-- Who took part in which chat, newest first per agent: the history an agent may see (SPEC §7).
CREATE TABLE chat_agents (
	site_id TEXT NOT NULL,
	agent_id TEXT NOT NULL,
	end_time INTEGER NOT NULL,
	chat_id TEXT NOT NULL,
	PRIMARY KEY (site_id, agent_id, end_time, chat_id)
) WITHOUT ROWID;

CREATE TABLE chat_messages (
	chat_id TEXT NOT NULL,
	id TEXT NOT NULL,
	type INTEGER NOT NULL,
	data_offset INTEGER NOT NULL,
	content TEXT NOT NULL,
	send_time INTEGER NOT NULL,
	sender_id TEXT,
	sender_name TEXT,
	PRIMARY KEY (chat_id, id)
);

CREATE TABLE offline_messages (
	site_id TEXT NOT NULL,
	id TEXT NOT NULL,
	name TEXT,
	email TEXT NOT NULL,
	phone TEXT,
	department TEXT,
	message TEXT NOT NULL,
	submitted_at INTEGER NOT NULL,
	PRIMARY KEY (site_id, id)
);
CREATE INDEX offline_messages_by_site ON offline_messages (site_id, submitted_at DESC);

-- Tickets opened from ended chats and offline messages; `source_id` is the event's uniqueId.
CREATE TABLE tickets (
	id TEXT PRIMARY KEY,
	site_id TEXT NOT NULL,
	source_event TEXT NOT NULL,
	source_id TEXT NOT NULL UNIQUE,
	chat_id TEXT,
	subject TEXT NOT NULL,
	body TEXT NOT NULL,
	requester_name TEXT,
	requester_email TEXT,
	status TEXT NOT NULL,
	created_at INTEGER NOT NULL
);
CREATE INDEX tickets_by_site ON tickets (site_id, created_at DESC);

-- The latest wrap-up of each agent on each chat.
CREATE TABLE wrapups (
	chat_id TEXT NOT NULL,
	agent_id TEXT NOT NULL,
	site_id TEXT NOT NULL,
	category TEXT,
	comment TEXT,
	wrapped_up_at INTEGER NOT NULL,
	PRIMARY KEY (chat_id, agent_id)
);

-- The latest rating of each chat.
CREATE TABLE ratings (
	chat_id TEXT PRIMARY KEY,
	site_id TEXT NOT NULL,
	visitor_id TEXT NOT NULL,
	rating INTEGER NOT NULL,
	comment TEXT,
	rated_at INTEGER NOT NULL
);

-- The log events (cannedMessage.useLog, chatQueue.log, …) as they came.
CREATE TABLE event_log (
	unique_id TEXT PRIMARY KEY,
	site_id TEXT NOT NULL,
	name TEXT NOT NULL,
	payload TEXT NOT NULL,
	published_at INTEGER NOT NULL
);
CREATE INDEX event_log_by_site ON event_log (site_id, name, published_at);

-- Exactly-once effect: one row per (second-level name, uniqueId[, recipient]). A consumer claims
-- the row before an outside effect, marks it done after, and skips a key that is done.
CREATE TABLE deliveries (
	key TEXT PRIMARY KEY,
	delivery_id TEXT NOT NULL,
	state TEXT NOT NULL CHECK (state IN ('claimed', 'done')),
	attempts INTEGER NOT NULL,
	claimed_until INTEGER NOT NULL,
	last_error TEXT,
	done_at INTEGER,
	-- Copies that arrived after the effect was done and were skipped (redeliveries, a second deployment's publish).
	repeats INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX deliveries_done_by_age ON deliveries (done_at) WHERE state = 'done';

-- Messages that could not be delivered, with why: nothing is dropped silently.
CREATE TABLE dead_letters (
	id INTEGER PRIMARY KEY AUTOINCREMENT,
	queue TEXT NOT NULL,
	name TEXT,
	unique_id TEXT,
	site_id TEXT,
	reason TEXT NOT NULL,
	body TEXT NOT NULL,
	received_at INTEGER NOT NULL
);

-- Payloads too large for a queue message (a long transcript), in parts, keyed by a hash of the payload.
CREATE TABLE spilled_payloads (
	spill_id TEXT NOT NULL,
	part INTEGER NOT NULL,
	body TEXT NOT NULL,
	created_at INTEGER NOT NULL,
	PRIMARY KEY (spill_id, part)
);
CREATE INDEX spilled_payloads_by_age ON spilled_payloads (created_at);
