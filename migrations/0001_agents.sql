-- Agent accounts: the system of record for who may log in to a site's console.
CREATE TABLE agents (
	id TEXT PRIMARY KEY,
	site_id TEXT NOT NULL,
	email TEXT NOT NULL,
	name TEXT NOT NULL,
	password_hash TEXT NOT NULL,
	max_chats INTEGER NOT NULL,
	created_at INTEGER NOT NULL,
	UNIQUE (site_id, email)
);
