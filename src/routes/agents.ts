import { createRoute } from "@hono/zod-openapi";
import { requireToken } from "../auth.ts";
import { clientAddressKey } from "../client-address.ts";
import { ApiError } from "../errors.ts";
import { limitBody } from "../http.ts";
import { AGENT, answer, errors, NO_TOKEN } from "../openapi-answers.ts";
import { Api, jsonBody } from "../openapi.ts";
import { AgentLoginResultSchema, AgentLoginSchema } from "../protocol/chat.ts";
import { keyRing } from "../security/keys.ts";
import { beginLogin } from "../security/login-limits.ts";
import { verifyPassword } from "../security/passwords.ts";
import { revokeSession } from "../security/revocation.ts";
import { signAgentToken } from "../security/tokens.ts";
import { SITE, SiteParams } from "./paths.ts";
import { agentOf, siteDispatcher } from "./room.ts";
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

/** Sign-out (SPEC §7): the token it is called with stops working; the others of the agent go on. */
agents.endpoint(
	createRoute({
		method: "delete",
		path: `${SITE}/agent-sessions/current`,
		tags: ["Agent"],
		summary: "Sign out: this token stops working, and the agent is offline",
		description:
			"Revokes the token it is called with (the agent's other sessions go on) and closes that token's agent sockets; with no agent socket of the agent left open, the agent is offline at once. A console signing out first sends `status` `offline` on its agent socket and closes it with 1000.",
		security: AGENT,
		middleware: [requireToken],
		request: { params: SiteParams },
		responses: {
			204: { description: "Signed out" },
			...errors(401, 403),
		},
	}),
	async (c) => {
		const { siteId } = c.req.valid("param");
		const agent = agentOf(c);
		const claims = c.get("claims");
		const tokenId = claims.role === "agent" ? claims.jti : undefined;
		// A token made before tokens had ids cannot be told apart from the agent's others: it runs out by itself (12 h).
		if (tokenId !== undefined)
			await revokeSession(c.env, siteId, tokenId, claims.exp);
		await siteDispatcher(c.env, siteId).signedOut(siteId, agent, tokenId);
		return c.body(null, 204);
	}
);
