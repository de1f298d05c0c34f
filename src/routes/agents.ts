import { Hono } from "hono";
import type { AppEnv } from "../auth.ts";
import { ApiError } from "../errors.ts";
import { limitBody, parseJson } from "../http.ts";
import { AgentLoginSchema } from "../protocol/chat.ts";
import { verifyPassword } from "../security/passwords.ts";
import { signAgentToken } from "../security/tokens.ts";
import { SITE } from "./chats.ts";

interface AgentRow {
	id: string;
	email: string;
	name: string;
	password_hash: string;
	max_chats: number;
}

/**
 * Checked against when the email is unknown, so a miss costs as long as a wrong password.
 * The hash of a random password that was thrown away.
 */
const DECOY_HASH = "pbkdf2-sha256$100000$xYbPn7BotqDT-UhG-W90vA$FCDyyFEMHq2jsn90PkxL0LHNCpJD5C93seRhY0mcOxU";

export const agents = new Hono<AppEnv>().post(`${SITE}/agent-sessions`, limitBody(4096), async (c) => {
	const siteId = c.req.param("siteId");
	const { email, password } = await parseJson(c, AgentLoginSchema);
	const row = await c.env.DB.prepare(`SELECT id, email, name, password_hash, max_chats FROM agents WHERE site_id = ? AND email = ?`)
		.bind(siteId, email.toLowerCase())
		.first<AgentRow>();
	const hash = row?.password_hash ?? DECOY_HASH;
	if (!(await verifyPassword(password, hash)) || !row) throw new ApiError(401, "unauthorized", "wrong email or password");
	const token = await signAgentToken(c.env.TOKEN_SECRET, { agentId: row.id, siteId, name: row.name });
	return c.json({ token, agent: { id: row.id, email: row.email, name: row.name, maxChats: row.max_chats } });
});
