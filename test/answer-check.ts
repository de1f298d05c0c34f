/**
 * Every answer the workers-pool integration tests receive through `api()` is checked against the API
 * document (SPEC §4): a documented route answers only the statuses it documents, each JSON body in
 * the shape documented for its status (errors in SPEC §4's shape, under `default` when not listed).
 */
import { Validator } from "@cfworker/json-schema";
import { SELF } from "cloudflare:test";
import { routes } from "../src/index.ts";
import { buildDocument } from "../src/openapi-document.ts";
import type { Schema } from "@cfworker/json-schema";

interface Operation {
	responses: Record<
		string,
		{ content?: Record<string, { schema?: Schema }> } | undefined
	>;
}

const document = buildDocument(routes) as unknown as {
	paths: Record<string, Record<string, Operation>>;
	components: { schemas: Record<string, Schema> };
};

/** Component references inlined: each validator gets one self-contained schema. */
export function inline(schema: unknown): unknown {
	if (Array.isArray(schema)) return schema.map(inline);
	if (schema === null || typeof schema !== "object") return schema;
	const ref = (schema as { $ref?: string }).$ref;
	if (ref?.startsWith("#/components/schemas/"))
		return inline(document.components.schemas[ref.slice(21)]);
	return Object.fromEntries(
		Object.entries(schema).map(([key, value]) => [key, inline(value)])
	);
}

const operations = Object.entries(document.paths).map(([path, item]) => ({
	pattern: new RegExp(`^${path.replace(/\{\w+\}/g, "[^/]+")}$`),
	item,
}));
const validators = new Map<Schema, Validator>();

/** Throws when `res`, the answer to `method url`, is not what the document says. */
export async function checkAnswer(
	method: string,
	url: string,
	res: Response
): Promise<void> {
	const { pathname } = new URL(url);
	const operation = operations.find((o) => o.pattern.test(pathname))?.item[
		method.toLowerCase()
	];
	// Unknown paths and methods are the app's 404, checked by the tests that send them.
	if (!operation) return;
	const documented =
		operation.responses[res.status] ??
		(res.status >= 400 ? operation.responses.default : undefined);
	const what = `${method} ${pathname} answered ${res.status}`;
	if (!documented)
		throw new Error(`${what}, which the API document does not list`);
	const schema = documented.content?.["application/json"]?.schema;
	if (!schema || !res.headers.get("Content-Type")?.includes("json")) return;
	let validator = validators.get(schema);
	if (!validator) {
		validator = new Validator(inline(schema) as Schema, "2020-12", false);
		validators.set(schema, validator);
	}
	const result = validator.validate(await res.json());
	if (!result.valid)
		throw new Error(
			`${what} with a body the API document does not allow: ${JSON.stringify(result.errors.slice(-3))}`
		);
}

/** `SELF.fetch`, with the answer checked against the API document: for every test helper that calls the app. */
export async function checkedFetch(
	url: string,
	init: RequestInit = {}
): Promise<Response> {
	const res = await SELF.fetch(url, init);
	await checkAnswer(init.method ?? "GET", url, res.clone());
	return res;
}
