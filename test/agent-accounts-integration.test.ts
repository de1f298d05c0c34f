/** SPEC §4 (agents' roles, the login answer, PATCH) and §6 (revocable agent tokens). */
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { keyRing } from "../src/security/keys.ts";
import { isRevoked } from "../src/security/revocation.ts";
import { verifyToken } from "../src/security/tokens.ts";
import { AgentConsole } from "./consoles.ts";
import { api, createSite, json, poll, startChat } from "./helpers.ts";
import { rowOf } from "./queue-helpers.ts";
import { TestSocket } from "./sockets.ts";

const admin = { token: env.ADMIN_TOKEN };
const PASSWORD = "first password";

async function createAgent(
	siteId: string,
	extra: Record<string, unknown> = {}
) {
	const email = `agent-${crypto.randomUUID().slice(0, 8)}@example.com`;
	const res = await api(`/admin/sites/${siteId}/agents`, {
		...admin,
		method: "POST",
		body: json({ email, name: "Pat", password: PASSWORD, ...extra }),
	});
	expect(res.status).toBe(201);
	const { agent } = await res.json<{ agent: { id: string } }>();
	return { email, agentId: agent.id };
}

async function login(siteId: string, email: string, password = PASSWORD) {
	const res = await api(`/sites/${siteId}/agent-sessions`, {
		method: "POST",
		body: json({ email, password }),
	});
	return {
		status: res.status,
		body: await res.json<{ token: string; agent: Record<string, unknown> }>(),
	};
}

const patch = (siteId: string, agentId: string, body: unknown) =>
	api(`/admin/sites/${siteId}/agents/${agentId}`, {
		...admin,
		method: "PATCH",
		body: typeof body === "string" ? body : json(body),
	});

/** What an agent token may do on an agent-only endpoint: 200, or 401 once revoked. */
const historyStatus = async (siteId: string, token: string) =>
	(await api(`/sites/${siteId}/history/chats`, { token })).status;

describe("agent accounts", () => {
	it("creates agents with a role (agent by default) and answers 201 {agent}", async () => {
		const siteId = await createSite();
		const email = `sup-${crypto.randomUUID().slice(0, 8)}@example.com`;
		const res = await api(`/admin/sites/${siteId}/agents`, {
			...admin,
			method: "POST",
			body: json({
				email,
				name: "Sue",
				password: PASSWORD,
				maxChats: 7,
				role: "supervisor",
			}),
		});
		expect(res.status).toBe(201);
		expect(await res.json()).toEqual({
			agent: {
				id: expect.any(String),
				email,
				name: "Sue",
				role: "supervisor",
				maxChats: 7,
				disabled: false,
			},
		});
		const plain = await createAgent(siteId);
		const { body } = await login(siteId, plain.email);
		expect(body.agent).toEqual({
			id: plain.agentId,
			email: plain.email,
			name: "Pat",
			role: "agent",
			maxChats: 5,
		});
	});

	it("logs in with the claims the rooms need: role, capacity and token version", async () => {
		const siteId = await createSite();
		const { email, agentId } = await createAgent(siteId, {
			role: "supervisor",
			maxChats: 3,
		});
		const { status, body } = await login(siteId, email);
		expect(status).toBe(200);
		expect(body.agent).toEqual({
			id: agentId,
			email,
			name: "Pat",
			role: "supervisor",
			maxChats: 3,
		});
		expect(await verifyToken(keyRing(env), body.token)).toMatchObject({
			sub: agentId,
			sid: siteId,
			role: "agent",
			name: "Pat",
			agentRole: "supervisor",
			maxChats: 3,
			tv: 1,
		});
	});

	it("changes a name without revoking tokens; the same role and capacity again change nothing", async () => {
		const siteId = await createSite();
		const { email, agentId } = await createAgent(siteId);
		const { body: first } = await login(siteId, email);
		const res = await patch(siteId, agentId, {
			name: "Patricia",
			role: "agent",
			maxChats: 5,
		});
		expect(res.status).toBe(200);
		expect(await res.json()).toEqual({
			agent: {
				id: agentId,
				email,
				name: "Patricia",
				role: "agent",
				maxChats: 5,
				disabled: false,
			},
		});
		expect(await historyStatus(siteId, first.token)).toBe(200);
		const { body: second } = await login(siteId, email);
		expect(second.agent).toMatchObject({ name: "Patricia" });
		expect(await verifyToken(keyRing(env), second.token)).toMatchObject({
			name: "Patricia",
			tv: 1,
		});
	});

	it("revokes an agent's tokens when its role or capacity changes (SPEC §6): a demoted supervisor can no longer monitor or join with its old token", async () => {
		const siteId = await createSite({
			routing: { mode: "manual", sticky: false },
		});
		const { email, agentId } = await createAgent(siteId, {
			role: "supervisor",
		});
		const other = await createAgent(siteId);
		const { body: supervisor } = await login(siteId, email);
		const { body: agent } = await login(siteId, other.email);
		const chat = await startChat(siteId);
		expect(
			(
				await api(`/sites/${siteId}/chats/${chat.chatId}/accept`, {
					method: "POST",
					token: agent.token,
				})
			).status
		).toBe(200);
		const act = (what: "monitor" | "join", token: string) =>
			api(`/sites/${siteId}/chats/${chat.chatId}/${what}`, {
				method: "POST",
				token,
			});
		expect((await act("monitor", supervisor.token)).status).toBe(200);

		const demoted = await patch(siteId, agentId, { role: "agent" });
		expect(await demoted.json()).toMatchObject({ agent: { role: "agent" } });
		expect((await act("monitor", supervisor.token)).status).toBe(401);
		expect((await act("join", supervisor.token)).status).toBe(401);
		// Logged in again, it is a plain agent: no monitoring, no joining uninvited.
		const { body: again } = await login(siteId, email);
		expect(await verifyToken(keyRing(env), again.token)).toMatchObject({
			agentRole: "agent",
			tv: 2,
		});
		expect((await act("monitor", again.token)).status).toBe(403);
		expect((await act("join", again.token)).status).toBe(403);

		// A new capacity revokes too: the token carries the capacity the dispatcher counts against.
		expect((await patch(siteId, other.agentId, { maxChats: 9 })).status).toBe(
			200
		);
		expect(await historyStatus(siteId, agent.token)).toBe(401);
		const { body: resized } = await login(siteId, other.email);
		expect(await verifyToken(keyRing(env), resized.token)).toMatchObject({
			maxChats: 9,
			tv: 2,
		});
	});

	it("revokes every token of an agent whose password is reset", async () => {
		const siteId = await createSite();
		const { email, agentId } = await createAgent(siteId);
		const other = await createAgent(siteId);
		const { body: before } = await login(siteId, email);
		const { body: colleague } = await login(siteId, other.email);
		const chat = await startChat(siteId);

		expect(
			(await patch(siteId, agentId, { password: "second password" })).status
		).toBe(200);
		expect(await historyStatus(siteId, before.token)).toBe(401);
		// The chat path checks it too, before the room sees the call.
		const revoked = await poll(siteId, chat.chatId, before.token);
		expect(revoked.status).toBe(401);
		expect(revoked.body.error).toEqual({
			type: "unauthorized",
			message: "token revoked",
		});
		expect(
			await isRevoked(env, (await verifyToken(keyRing(env), before.token))!)
		).toBe(true);
		// Only this agent's tokens: a colleague's and a visitor's still work.
		expect(await historyStatus(siteId, colleague.token)).toBe(200);
		expect((await poll(siteId, chat.chatId, chat.token)).status).toBe(200);

		expect((await login(siteId, email)).status).toBe(401);
		const { status, body: after } = await login(
			siteId,
			email,
			"second password"
		);
		expect(status).toBe(200);
		expect(await verifyToken(keyRing(env), after.token)).toMatchObject({
			tv: 2,
		});
		expect(await historyStatus(siteId, after.token)).toBe(200);
		// The lowest valid version is in KV beside the site configuration, for rooms to read without D1.
		expect(await env.SITE_CONFIG.get(`agent-tv:${siteId}`, "json")).toEqual({
			[agentId]: 2,
		});
	});

	it("disables an agent: its tokens stop working and it cannot log in until enabled again", async () => {
		const siteId = await createSite();
		const { email, agentId } = await createAgent(siteId);
		const { body: before } = await login(siteId, email);

		const disabled = await patch(siteId, agentId, { disabled: true });
		expect(await disabled.json()).toMatchObject({ agent: { disabled: true } });
		expect(await historyStatus(siteId, before.token)).toBe(401);
		const refused = await login(siteId, email);
		expect(refused.status).toBe(401);
		expect(refused.body).toEqual({
			code: -1,
			error: { type: "unauthorized", message: "wrong email or password" },
		});

		expect((await patch(siteId, agentId, { disabled: false })).status).toBe(
			200
		);
		expect(await historyStatus(siteId, before.token)).toBe(401);
		const { status, body: after } = await login(siteId, email);
		expect(status).toBe(200);
		expect(await historyStatus(siteId, after.token)).toBe(200);
	});

	it("closes a disabled agent's open console and chat sockets at once with 4401, and takes it offline", async () => {
		const siteId = await createSite({
			routing: { mode: "manual", sticky: false },
		});
		const { email, agentId } = await createAgent(siteId);
		const { body } = await login(siteId, email);
		const chat = await startChat(siteId);
		expect(
			(
				await api(`/sites/${siteId}/chats/${chat.chatId}/accept`, {
					method: "POST",
					token: body.token,
				})
			).status
		).toBe(200);
		const console = await AgentConsole.open(siteId, body.token);
		const socket = await TestSocket.hello(siteId, chat.chatId, body.token);
		// Both sockets are idle: no frame of theirs would notice the revocation.
		expect((await patch(siteId, agentId, { disabled: true })).status).toBe(200);
		expect(await console.whenClosed()).toBe(4401);
		expect(await socket.closed()).toBe(4401);
		expect(await (await api(`/sites/${siteId}/availability`)).json()).toEqual({
			online: false,
			waiting: 0,
		});
	});

	it("answers 404 for an agent of another site or none, and 400 for a bad or empty body", async () => {
		const siteId = await createSite();
		const { agentId } = await createAgent(siteId);
		expect(
			(await patch(await createSite(), agentId, { name: "X" })).status
		).toBe(404);
		expect(
			(await patch(siteId, crypto.randomUUID(), { name: "X" })).status
		).toBe(404);
		for (const body of [
			{},
			{ email: "new@example.com" },
			{ password: "short" },
			{ role: "admin" },
			{ maxChats: 0 },
			{ disabled: "yes" },
			"not json",
		]) {
			const res = await patch(siteId, agentId, body);
			expect(res.status, JSON.stringify(body)).toBe(400);
			expect((await res.json<{ error: { type: string } }>()).error.type).toBe(
				"invalid_request"
			);
		}
		expect(
			(
				await api(`/admin/sites/${siteId}/agents/${agentId}`, {
					token: "wrong",
					method: "PATCH",
					body: json({ disabled: true }),
				})
			).status
		).toBe(401);
		const row = await rowOf(
			`SELECT name, disabled, token_version FROM agents WHERE id = ?`,
			agentId
		);
		expect(row).toEqual({ name: "Pat", disabled: 0, token_version: 1 });
	});
});
