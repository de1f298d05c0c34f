import { createRoute } from "@hono/zod-openapi";
import { clientAddressKey } from "../client-address.ts";
import { ApiError } from "../errors.ts";
import { limitBody } from "../http.ts";
import { answer, errors, NO_TOKEN } from "../openapi-answers.ts";
import { Api, jsonBody } from "../openapi.ts";
import { AgentLoginResultSchema, AgentLoginSchema } from "../protocol/chat.ts";
import { keyRing } from "../security/keys.ts";
import { beginLogin } from "../security/login-limits.ts";
import { verifyPassword } from "../security/passwords.ts";
import { signAgentToken } from "../security/tokens.ts";
import { SITE, SiteParams } from "./paths.ts";
import type { AgentRole } from "../protocol/chat.ts";

interface AgentRow {
	id: string;
	email: string;
	name: string;
	role: AgentRole;
	password_hash: string;
	max_chats: number;
	disabled: number;
	token_version: number;
}

/**
 * Checked against when the email is unknown, so a miss costs as long as a wrong password.
 * The hash of a random password that was thrown away.
 */
const DECOY_HASH =
	"pbkdf2-sha256$100000$xYbPn7BotqDT-UhG-W90vA$FCDyyFEMHq2jsn90PkxL0LHNCpJD5C93seRhY0mcOxU";

export const agents = new Api().endpoint(
	createRoute({
		method: "post",
		path: `${SITE}/agent-sessions`,
		tags: ["Agent"],
		summary: "Log in: an agent token for the site",
		security: NO_TOKEN,
		middleware: [limitBody(4096)],
		request: { params: SiteParams, body: jsonBody(AgentLoginSchema) },
		responses: {
			200: answer("The agent's token and profile", AgentLoginResultSchema),
			...errors(400, 401, 413, 429),
		},
	}),
	async (c) => {
		const { siteId } = c.req.valid("param");
		const { email, password } = c.req.valid("json");
		// Counted before the PBKDF2, so guesses sent in parallel are counted too; a refusal costs none.
		const attempt = await beginLogin(
			c.env,
			siteId,
			email,
			clientAddressKey(c.req.raw)
		);
		const row = await c.env.DB.prepare(
			`SELECT id, email, name, role, password_hash, max_chats, disabled, token_version FROM agents WHERE site_id = ? AND email = ?`
		)
			.bind(siteId, email.toLowerCase())
			.first<AgentRow>();
		const hash = row?.password_hash ?? DECOY_HASH;
		// A disabled agent is told no more than a wrong password would tell it.
		if (!(await verifyPassword(password, hash)) || !row || row.disabled)
			throw new ApiError(401, "unauthorized", "wrong email or password");
		await attempt.succeeded();
		const agent = {
			id: row.id,
			email: row.email,
			name: row.name,
			role: row.role,
			maxChats: row.max_chats,
		};
		const token = await signAgentToken(keyRing(c.env), {
			agentId: row.id,
			siteId,
			name: row.name,
			agentRole: row.role,
			maxChats: row.max_chats,
			tokenVersion: row.token_version,
		});
		return c.json({ token, agent });
	}
);
