import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { api, createSite, json } from "./helpers.ts";

const admin = { token: env.ADMIN_TOKEN };

describe("admin API", () => {
	it("stores a site's configuration with the SPEC's defaults and reads it back", async () => {
		const siteId = await createSite();
		const res = await api(`/admin/sites/${siteId}`, admin);
		expect(res.status).toBe(200);
		expect(await res.json()).toEqual({
			name: "Test site",
			routing: { mode: "auto", sticky: true },
			limits: {
				maxMessageLength: 4000,
				maxTrackedVisitors: 1000,
				messagesPerMinutePerVisitor: 60,
				chatStartsPerMinutePerAddress: 60,
				socketUpgradesPerMinutePerAddress: 300,
				socketsPerChat: 32,
				framesPerSecondPerSocket: 20,
			},
			integrations: {
				persistence: { enabled: true },
				email: { enabled: false, to: [] },
				ticket: { enabled: false },
				webhook: { enabled: false },
				salesforce: { enabled: false },
				zendesk: { enabled: false },
			},
			cannedMessages: [],
			wrapupCategories: [],
			widget: { prechat: { fields: [] }, offlineForm: true, rating: true },
			allowedOrigins: [],
		});
	});

	it("keeps a site's canned messages and wrap-up categories; a duplicate shortcut or an empty text is refused", async () => {
		const siteId = await createSite({
			cannedMessages: [
				{ shortcut: "hi", text: "Hello! How can I help you today?" },
			],
			wrapupCategories: ["Billing", "Shipping"],
		});
		const stored = await (
			await api(`/admin/sites/${siteId}`, admin)
		).json<{ cannedMessages: unknown; wrapupCategories: unknown }>();
		expect(stored.cannedMessages).toEqual([
			{ shortcut: "hi", text: "Hello! How can I help you today?" },
		]);
		expect(stored.wrapupCategories).toEqual(["Billing", "Shipping"]);
		for (const cannedMessages of [
			[
				{ shortcut: "hi", text: "a" },
				{ shortcut: "hi", text: "b" },
			],
			[{ shortcut: "hi", text: "" }],
			[{ shortcut: "two words", text: "a" }],
		]) {
			const res = await api(`/admin/sites/${siteId}`, {
				...admin,
				method: "PUT",
				body: json({ name: "x", cannedMessages }),
			});
			expect(res.status, JSON.stringify(cannedMessages)).toBe(400);
			expect((await res.json<{ error: { type: string } }>()).error.type).toBe(
				"invalid_request"
			);
		}
	});

	it("rejects unknown fields, an integration enabled without what it needs, and a bad admin token", async () => {
		const siteId = `site-${crypto.randomUUID().slice(0, 8)}`;
		for (const body of [
			{ name: "x", colour: "red" },
			{ name: "x", integrations: { webhook: { enabled: true } } },
			{ name: "x", limits: { maxMessageLength: 5000 } },
		]) {
			const res = await api(`/admin/sites/${siteId}`, {
				...admin,
				method: "PUT",
				body: json(body),
			});
			expect(res.status, JSON.stringify(body)).toBe(400);
			expect((await res.json<{ error: { type: string } }>()).error.type).toBe(
				"invalid_request"
			);
		}
		const unauthorized = await api(`/admin/sites/${siteId}`, {
			token: "wrong",
			method: "PUT",
			body: json({ name: "x" }),
		});
		expect(unauthorized.status).toBe(401);
		expect((await api(`/admin/sites/${siteId}`, admin)).status).toBe(404);
	});

	it("creates agents with hashed passwords who can log in; wrong passwords and duplicates are refused", async () => {
		const siteId = await createSite();
		const agent = {
			email: "Sam@Example.com",
			name: "Sam",
			password: "a long password",
			maxChats: 3,
		};
		const created = await api(`/admin/sites/${siteId}/agents`, {
			...admin,
			method: "POST",
			body: json(agent),
		});
		expect(created.status).toBe(201);
		const { agent: made } = await created.json<{ agent: { id: string } }>();
		expect(made).toMatchObject({
			id: expect.any(String),
			email: "sam@example.com",
			name: "Sam",
			role: "agent",
			maxChats: 3,
		});
		const duplicate = await api(`/admin/sites/${siteId}/agents`, {
			...admin,
			method: "POST",
			body: json(agent),
		});
		expect(duplicate.status).toBe(409);

		const stored = await env.DB.prepare(
			`SELECT password_hash FROM agents WHERE site_id = ?`
		)
			.bind(siteId)
			.first<{ password_hash: string }>();
		expect(stored!.password_hash).not.toContain(agent.password);
		expect(stored!.password_hash).toMatch(/^pbkdf2-sha256\$100000\$/);

		const login = await api(`/sites/${siteId}/agent-sessions`, {
			method: "POST",
			body: json({ email: "sam@example.com", password: agent.password }),
		});
		expect(login.status).toBe(200);
		expect(await login.json()).toMatchObject({
			token: expect.any(String),
			agent: {
				id: made.id,
				name: "Sam",
				email: "sam@example.com",
				role: "agent",
				maxChats: 3,
			},
		});

		for (const wrong of [
			{ email: agent.email, password: "nope" },
			{ email: "nobody@example.com", password: agent.password },
		]) {
			const res = await api(`/sites/${siteId}/agent-sessions`, {
				method: "POST",
				body: json(wrong),
			});
			expect(res.status).toBe(401);
		}
		const elsewhere = await api(`/sites/${await createSite()}/agent-sessions`, {
			method: "POST",
			body: json({ email: agent.email, password: agent.password }),
		});
		expect(elsewhere.status).toBe(401);
	});

	it("creates an agent with a fixed id when asked (seeded agents, SPEC §12); a taken or malformed id is refused", async () => {
		const siteId = await createSite();
		const id = `fixed-${crypto.randomUUID().slice(0, 8)}`;
		const agent = {
			id,
			email: `${id}@example.com`,
			name: "Fixed",
			password: "a long password",
		};
		const created = await api(`/admin/sites/${siteId}/agents`, {
			...admin,
			method: "POST",
			body: json(agent),
		});
		expect(created.status).toBe(201);
		expect((await created.json<{ agent: { id: string } }>()).agent.id).toBe(id);
		const taken = await api(`/admin/sites/${siteId}/agents`, {
			...admin,
			method: "POST",
			body: json({ ...agent, email: `other-${id}@example.com` }),
		});
		expect(taken.status).toBe(409);
		const malformed = await api(`/admin/sites/${siteId}/agents`, {
			...admin,
			method: "POST",
			body: json({ ...agent, id: "no spaces", email: `x-${id}@example.com` }),
		});
		expect(malformed.status).toBe(400);
		const rows = await env.DB.prepare(`SELECT id FROM agents WHERE site_id = ?`)
			.bind(siteId)
			.all<{ id: string }>();
		expect(rows.results.map((r) => r.id)).toEqual([id]);
	});

	it("answers malformed start, login and agent bodies with 400 invalid_request and stores nothing", async () => {
		const siteId = await createSite();
		const cases: [string, string, unknown][] = [
			[
				`/sites/${siteId}/chats`,
				"POST",
				{ visitor: { email: "not an email" } },
			],
			[
				`/sites/${siteId}/chats`,
				"POST",
				{ visitor: {}, favouriteColour: "red" },
			],
			[`/sites/${siteId}/agent-sessions`, "POST", { email: "x@example.com" }],
			[`/sites/${siteId}/agent-sessions`, "POST", { email: 42, password: "p" }],
			[
				`/admin/sites/${siteId}/agents`,
				"POST",
				{ email: "short@example.com", name: "Short", password: "short" },
			],
			[
				`/admin/sites/${siteId}/agents`,
				"POST",
				{
					email: "extra@example.com",
					name: "Extra",
					password: "long enough",
					role: "admin",
				},
			],
		];
		for (const [path, method, body] of cases) {
			const res = await api(path, { ...admin, method, body: json(body) });
			expect(res.status, `${path} ${json(body)}`).toBe(400);
			expect((await res.json<{ error: { type: string } }>()).error.type).toBe(
				"invalid_request"
			);
		}
		const agents = await env.DB.prepare(
			`SELECT COUNT(*) AS n FROM agents WHERE site_id = ?`
		)
			.bind(siteId)
			.first<{ n: number }>();
		expect(agents!.n).toBe(0);
	});
});
