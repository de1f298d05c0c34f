/** SPEC §4: /v1/openapi.json documents every route the app serves (method and path), with examples that work as they are. */
import { Validator } from "@cfworker/json-schema";
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { app } from "../src/index.ts";
import { checkAnswer, inline } from "./answer-check.ts";
import { api, BASE, json } from "./helpers.ts";
import type { Schema } from "@cfworker/json-schema";

interface DocumentedOperation {
	parameters?: { name: string; in: string; example?: string }[];
	requestBody?: {
		description?: string;
		content: { "application/json": { schema: Schema; example?: unknown } };
	};
}

const documentOperations = async () => {
	const document = await (
		await api("/openapi.json")
	).json<{
		paths: Record<string, Record<string, DocumentedOperation>>;
	}>();
	return Object.entries(document.paths).flatMap(([path, item]) =>
		Object.entries(item).map(([method, operation]) => ({
			route: `${method.toUpperCase()} ${path}`,
			operation,
		}))
	);
};

/** Sealed values (SPEC §3, §4) never appear in an example: only the API hands them out. */
const SEALED = ["visitorState", "chatState"];
const sealedFieldsIn = (value: unknown): string[] =>
	value === null || typeof value !== "object"
		? []
		: Object.entries(value).flatMap(([key, inner]) => [
				...(SEALED.includes(key) ? [key] : []),
				...sealedFieldsIn(inner),
			]);

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

	it("gives every request body an example its schema takes, with no sealed value in it", async () => {
		const problems: string[] = [];
		for (const { route, operation } of await documentOperations()) {
			const media = operation.requestBody?.content["application/json"];
			if (!media) continue;
			if (media.example === undefined) {
				problems.push(`${route}: no example`);
				continue;
			}
			// A sealed value the body requires is left out, and its description says where it comes from.
			const schema = inline(media.schema) as Schema & { required?: string[] };
			const sealedRequired = (schema.required ?? []).filter((f) =>
				SEALED.includes(f)
			);
			const result = new Validator(
				{
					...schema,
					required: schema.required?.filter((f) => !SEALED.includes(f)),
				},
				"2020-12",
				false
			).validate(media.example);
			if (!result.valid)
				problems.push(`${route}: ${JSON.stringify(result.errors.slice(-2))}`);
			for (const field of sealedFieldsIn(media.example))
				problems.push(`${route}: holds ${field}`);
			for (const field of sealedRequired)
				if (!operation.requestBody?.description?.includes(field))
					problems.push(`${route}: does not say where ${field} comes from`);
		}
		expect(problems).toEqual([]);
	});

	it("works as /docs' Try it out sends the examples: a chat starts, a visit and an offline message are taken", async () => {
		const operations = new Map(
			(await documentOperations()).map((o) => [o.route, o.operation])
		);
		const tryIt = (route: string) => {
			const operation = operations.get(route)!;
			const siteId = operation.parameters?.find(
				(p) => p.name === "siteId"
			)?.example;
			const [method, path] = route.split(" ") as [string, string];
			return api(path.replace("/v1", "").replace("{siteId}", siteId!), {
				method,
				body: json(operation.requestBody!.content["application/json"].example),
			});
		};
		// The demo site (SPEC §12) that the examples name, as a deployment seeds it.
		const demo = await api("/admin/sites/demo", {
			method: "PUT",
			token: env.ADMIN_TOKEN,
			body: json({ name: "Demo site" }),
		});
		expect(demo.status).toBe(200);

		const started = await tryIt("POST /v1/sites/{siteId}/chats");
		expect(started.status, await started.clone().text()).toBe(201);
		expect(await started.json()).toMatchObject({ status: "waiting" });
		expect((await tryIt("POST /v1/sites/{siteId}/visits")).status).toBe(200);
		const offline = await tryIt("POST /v1/sites/{siteId}/offline-messages");
		expect(offline.status, await offline.clone().text()).toBeLessThan(300);
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
