/** SPEC §4 and §6: browsers call the API from customers' pages; a site's allowedOrigins decides which. */
import { env, SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { api, BASE, createSite, json, startChat } from "./helpers.ts";

const SHOP = "https://shop.example";
const OTHER = "https://elsewhere.example";

const preflight = (path: string, origin: string, method = "POST") =>
	api(path, {
		method: "OPTIONS",
		headers: {
			Origin: origin,
			"Access-Control-Request-Method": method,
			"Access-Control-Request-Headers":
				"authorization,content-type,x-visitor-data-offset",
		},
	});

const headerList = (res: Response, name: string) =>
	(res.headers.get(name) ?? "").toLowerCase().split(/\s*,\s*/);

describe("CORS preflights", () => {
	it("answer 204 for any page when the site lists no origins, with the headers and methods the clients use and no credentials", async () => {
		const siteId = await createSite();
		const res = await preflight(
			`/sites/${siteId}/chats/some-chat/messages`,
			SHOP
		);
		expect(res.status).toBe(204);
		expect(res.headers.get("Access-Control-Allow-Origin")).toBe("*");
		expect(headerList(res, "Access-Control-Allow-Methods")).toEqual(
			expect.arrayContaining(["get", "post", "put"])
		);
		expect(headerList(res, "Access-Control-Allow-Headers")).toEqual(
			expect.arrayContaining([
				"authorization",
				"content-type",
				"x-visitor-data-offset",
				"x-agent-data-offset",
				"x-visitor-chain",
				"x-agent-chain",
			])
		);
		expect(res.headers.get("Access-Control-Allow-Credentials")).toBeNull();
	});

	it("echo a listed origin and refuse any other with 403 and no CORS headers", async () => {
		const siteId = await createSite({ allowedOrigins: [SHOP] });
		const allowed = await preflight(`/sites/${siteId}/chats`, SHOP);
		expect(allowed.status).toBe(204);
		expect(allowed.headers.get("Access-Control-Allow-Origin")).toBe(SHOP);
		expect(headerList(allowed, "Vary")).toContain("origin");

		const refused = await preflight(`/sites/${siteId}/chats`, OTHER);
		expect(refused.status).toBe(403);
		expect(refused.headers.get("Access-Control-Allow-Origin")).toBeNull();
		expect(refused.headers.get("Access-Control-Allow-Methods")).toBeNull();
	});

	it("are never answered for admin routes", async () => {
		const siteId = await createSite();
		const res = await preflight(`/admin/sites/${siteId}`, SHOP, "PUT");
		expect(res.status).not.toBe(204);
		expect(res.headers.get("Access-Control-Allow-Origin")).toBeNull();
		const read = await api(`/admin/sites/${siteId}`, {
			token: env.ADMIN_TOKEN,
			headers: { Origin: SHOP },
		});
		expect(read.status).toBe(200);
		expect(read.headers.get("Access-Control-Allow-Origin")).toBeNull();
	});
});

describe("CORS on requests", () => {
	it("let a listed page start a chat and read the offset headers, and refuse an unlisted page with 403 origin_not_allowed", async () => {
		const siteId = await createSite({
			allowedOrigins: [SHOP, "http://localhost:3000"],
		});
		const started = await api(`/sites/${siteId}/chats`, {
			method: "POST",
			body: json({ visitor: { name: "Vera" } }),
			headers: { Origin: SHOP },
		});
		expect(started.status).toBe(201);
		expect(started.headers.get("Access-Control-Allow-Origin")).toBe(SHOP);
		const chat = await started.json<{ chatId: string; token: string }>();

		const polled = await api(`/sites/${siteId}/chats/${chat.chatId}/messages`, {
			token: chat.token,
			offsets: [0, 0],
			headers: { Origin: SHOP },
		});
		expect(polled.status).toBe(200);
		expect(polled.headers.get("Access-Control-Allow-Origin")).toBe(SHOP);
		expect(headerList(polled, "Access-Control-Expose-Headers")).toEqual(
			expect.arrayContaining([
				"x-visitor-data-offset",
				"x-agent-data-offset",
				"retry-after",
			])
		);

		const refused = await api(`/sites/${siteId}/chats`, {
			method: "POST",
			body: json({ visitor: { name: "Mallory" } }),
			headers: { Origin: OTHER },
		});
		expect(refused.status).toBe(403);
		expect((await refused.json<{ error: { type: string } }>()).error.type).toBe(
			"origin_not_allowed"
		);
		expect(refused.headers.get("Access-Control-Allow-Origin")).toBeNull();
	});

	it("leave calls without an Origin (servers, SDKs in Node) alone, and always allow the deployment's own pages", async () => {
		const siteId = await createSite({ allowedOrigins: [SHOP] });
		const fromServer = await api(`/sites/${siteId}/chats`, {
			method: "POST",
			body: json({ visitor: {} }),
		});
		expect(fromServer.status).toBe(201);
		expect(fromServer.headers.get("Access-Control-Allow-Origin")).toBeNull();
		const fromConsole = await api(`/sites/${siteId}/chats`, {
			method: "POST",
			body: json({ visitor: {} }),
			headers: { Origin: BASE },
		});
		expect(fromConsole.status).toBe(201);
	});

	it("put the CORS headers on error answers too, so that the page can read why", async () => {
		const siteId = await createSite({
			allowedOrigins: [SHOP],
			limits: { chatStartsPerMinutePerAddress: 1 },
		});
		const chat = await startChat(siteId);

		const unauthorized = await api(
			`/sites/${siteId}/chats/${chat.chatId}/messages`,
			{ offsets: [0, 0], headers: { Origin: SHOP } }
		);
		expect(unauthorized.status).toBe(401);
		expect(unauthorized.headers.get("Access-Control-Allow-Origin")).toBe(SHOP);

		const invalid = await api(`/sites/${siteId}/chats`, {
			method: "POST",
			body: "{not json",
			headers: { Origin: SHOP },
		});
		expect(invalid.status).toBe(400);
		expect(invalid.headers.get("Access-Control-Allow-Origin")).toBe(SHOP);

		const limited = await api(`/sites/${siteId}/chats`, {
			method: "POST",
			body: json({ visitor: {} }),
			headers: { Origin: SHOP },
		});
		expect(limited.status).toBe(429);
		expect(limited.headers.get("Access-Control-Allow-Origin")).toBe(SHOP);
		expect(Number(limited.headers.get("Retry-After"))).toBeGreaterThanOrEqual(
			1
		);
		expect(headerList(limited, "Access-Control-Expose-Headers")).toContain(
			"retry-after"
		);

		const unknown = await api(`/sites/${siteId}/no-such-route`, {
			headers: { Origin: SHOP },
		});
		expect(unknown.status).toBe(404);
		expect(unknown.headers.get("Access-Control-Allow-Origin")).toBe(SHOP);
	});

	it("refuse a WebSocket upgrade from an unlisted page with 403, and let a listed one through", async () => {
		const siteId = await createSite({ allowedOrigins: [SHOP] });
		const chat = await startChat(siteId);
		const upgrade = (origin: string) =>
			SELF.fetch(`${BASE}/v1/sites/${siteId}/chats/${chat.chatId}/ws`, {
				headers: { Upgrade: "websocket", Origin: origin },
			});
		const refused = await upgrade(OTHER);
		expect(refused.status).toBe(403);
		expect(refused.webSocket).toBeNull();
		const accepted = await upgrade(SHOP);
		expect(accepted.status).toBe(101);
		accepted.webSocket!.accept();
		accepted.webSocket!.close(1000, "done");
	});
});

describe("allowedOrigins", () => {
	it("takes origins only: a path, a trailing slash or a bare host is a 400", async () => {
		for (const bad of [
			"https://shop.example/",
			"https://shop.example/page",
			"shop.example",
			"*",
		]) {
			const res = await api(`/admin/sites/site-cors-bad`, {
				method: "PUT",
				token: env.ADMIN_TOKEN,
				body: json({ name: "Bad", allowedOrigins: [bad] }),
			});
			expect(res.status, bad).toBe(400);
		}
		expect(
			(
				await api(`/admin/sites/site-cors-good`, {
					method: "PUT",
					token: env.ADMIN_TOKEN,
					body: json({
						name: "Good",
						allowedOrigins: [SHOP, "http://localhost:3000"],
					}),
				})
			).status
		).toBe(200);
	});
});
