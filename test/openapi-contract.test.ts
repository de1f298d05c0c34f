/** SPEC §4: /v1/openapi.json documents every route the app serves (method and path). */
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { app } from "../src/index.ts";
import { checkAnswer } from "./answer-check.ts";
import { api, BASE } from "./helpers.ts";

/** hono's `/v1/sites/:siteId{[A-Za-z0-9_-]{1,64}}` → OpenAPI's `/v1/sites/{siteId}`. */
const openApiPath = (path: string) =>
	path.replace(/:(\w+)(\{(?:[^{}]|\{[^{}]*\})*\})?/g, "{$1}");

describe("the API document", () => {
	it("lists every route of the app, with its method", async () => {
		const res = await api("/openapi.json");
		expect(res.status).toBe(200);
		const document = await res.json<{
			openapi: string;
			paths: Record<string, Record<string, unknown>>;
		}>();
		expect(document.openapi).toMatch(/^3\.1\./);
		const served = app.routes
			.filter((route) => route.method !== "ALL")
			.map((route) => `${route.method} ${openApiPath(route.path)}`);
		expect(served.length).toBeGreaterThan(30);
		const documented = Object.entries(document.paths).flatMap(([path, item]) =>
			Object.keys(item).map((method) => `${method.toUpperCase()} ${path}`)
		);
		expect(served.filter((route) => !documented.includes(route))).toEqual([]);
	});

	it("turns away an answer it does not document (the check behind every api() call)", async () => {
		const url = "http://chat.test/v1/sites/site-1/availability";
		const answer = (body: unknown, status = 200) =>
			new Response(JSON.stringify(body), {
				status,
				headers: { "Content-Type": "application/json" },
			});
		await checkAnswer("GET", url, answer({ online: true, waiting: 0 }));
		await expect(
			checkAnswer("GET", url, answer({ online: "yes", waiting: 0 }))
		).rejects.toThrow(/does not allow/);
		await expect(
			checkAnswer("GET", url, answer({ online: true, waiting: 0 }, 201))
		).rejects.toThrow(/does not list/);
		await expect(
			checkAnswer("GET", url, answer({ code: -1, error: { type: "x" } }, 500))
		).rejects.toThrow(/does not allow/);
	});

	// SELF runs the Worker alone; the assets binding serves /docs as a deployment does (run_worker_first is /v1/* only).
	it("has a reference page at /docs, from the deployment's own assets", async () => {
		const page = await env.ASSETS.fetch(`${BASE}/docs`);
		expect(page.status).toBe(200);
		const html = await page.text();
		expect(html).toContain("/docs/swagger-ui-bundle.js");
		expect(html).not.toMatch(/https?:\/\//);
		const init = await env.ASSETS.fetch(`${BASE}/docs/init.js`);
		expect(await init.text()).toContain("/v1/openapi.json");
	});
});
