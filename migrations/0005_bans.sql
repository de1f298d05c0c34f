-- SPEC §7: visitors banned by an agent. The SiteDispatcher holds the site's bans too; one that
-- starts without them (memory mode, a fresh deployment, lost storage) reads them from here.
-- `until` is epoch ms, NULL for a ban without an end. A second ban of the same visitor replaces the first.
CREATE TABLE bans (
	site_id TEXT NOT NULL,
	visitor_id TEXT NOT NULL,
	until INTEGER,
	reason TEXT,
	agent_id TEXT NOT NULL,
	banned_at INTEGER NOT NULL,
	PRIMARY KEY (site_id, visitor_id)
);
