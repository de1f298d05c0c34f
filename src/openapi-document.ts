/** `GET /v1/openapi.json` (SPEC §4): the OpenAPI 3.1 document of every route, built once from their declarations. */
import { createRoute } from "@hono/zod-openapi";
import {
	componentSchemas,
	NO_TOKEN,
	SECURITY_SCHEMES,
} from "./openapi-answers.ts";
import { withExamples } from "./openapi-examples.ts";
import { Api } from "./openapi.ts";
import type { AppEnv } from "./auth.ts";
import type { OpenAPIHono } from "@hono/zod-openapi";

const documentRoute = createRoute({
	method: "get",
	path: "/openapi.json",
	tags: ["Document"],
	summary: "This document",
	security: NO_TOKEN,
	responses: {
		200: {
			description: "The OpenAPI 3.1 document of the API",
			content: { "application/json": { schema: { type: "object" } } },
		},
	},
});

const built = new WeakMap<object, ReturnType<typeof build>>();

/** The document of `routes` (mounted at /v1); built once. */
export function buildDocument(routes: OpenAPIHono<AppEnv>) {
	let document = built.get(routes);
	if (!document) built.set(routes, (document = build(routes)));
	return document;
}

function build(routes: OpenAPIHono<AppEnv>) {
	for (const [name, scheme] of Object.entries(SECURITY_SCHEMES))
		routes.openAPIRegistry.registerComponent("securitySchemes", name, scheme);
	for (const [name, schema] of Object.entries(componentSchemas))
		routes.openAPIRegistry.registerComponent("schemas", name, schema);
	const document = routes.getOpenAPI31Document({
		openapi: "3.1.0",
		info: {
			title: "Edge Live Chat API",
			version: "1",
			description:
				"Live chat on Cloudflare Workers: visitors, agents, admin (SPEC §4). Errors answer `{code: -1, error: {type, message, issues?}}`.",
		},
		servers: [{ url: "/" }],
	});
	// Paths are declared relative to /v1, where the routes are mounted.
	return withExamples({
		...document,
		paths: Object.fromEntries(
			Object.entries(document.paths ?? {}).map(([path, item]) => [
				`/v1${path}`,
				item,
			])
		),
	});
}

/** Serves the document of `routes`, built at the first request; mount it among them so it lists itself. */
export const apiDocument = (routes: OpenAPIHono<AppEnv>) =>
	new Api().endpoint(documentRoute, (c) => c.json(buildDocument(routes)));
