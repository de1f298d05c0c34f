-- SPEC §4, §6: an agent's role, whether it may log in, and the version its tokens carry (`tv`).
-- Disabling an agent or resetting its password raises token_version, which revokes every token
-- issued before (the minimum is also kept in KV, so the chat path checks it without D1).
ALTER TABLE agents ADD COLUMN role TEXT NOT NULL DEFAULT 'agent' CHECK (role IN ('agent', 'supervisor'));
ALTER TABLE agents ADD COLUMN disabled INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1));
ALTER TABLE agents ADD COLUMN token_version INTEGER NOT NULL DEFAULT 1;
