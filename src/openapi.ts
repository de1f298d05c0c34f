/**
 * Routes declared once (SPEC §4): a route's `createRoute` config validates its input and writes its
 * part of `/v1/openapi.json`. Bodies are parsed here whatever their Content-Type (as they always
 * were), through `parseJsonText`'s depth and Unicode checks; headers here too (parseHeaders); params
 * and query go through @hono/zod-openapi's validators. Every failure, malformed JSON included, is one 400 invalid_request.
 */
import { OpenAPIHono } from "@hono/zod-openapi";
import { z } from "zod";
import { ApiError } from "./errors.ts";
import { parseJsonText } from "./protocol/json-text.ts";
import type { AppEnv } from "./auth.ts";
import type { Hook, RouteConfig, RouteHandler } from "@hono/zod-openapi";
import type { Context } from "hono";
import type { SchemaObject } from "openapi3-ts/oas31";

/** Each path parameter's pattern, as the router matches it: anything else is a 404, not a 400. */
const PATH_PARAMS: Record<string, string> = {
	siteId: "[A-Za-z0-9_-]{1,64}",
	chatId: "[0-9a-f-]{36}",
	visitorId: "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
	agentId: "[A-Za-z0-9_-]{1,64}",
};

/** `/sites/{siteId}` (OpenAPI) → `/sites/:siteId{[A-Za-z0-9_-]{1,64}}` (hono). */
export const routingPath = (path: string) =>
	path.replace(/\{(\w+)\}/g, (_, name: string) => {
		const pattern = PATH_PARAMS[name];
		if (!pattern) throw new Error(`no pattern for path parameter ${name}`);
		return `:${name}{${pattern}}`;
	});

/** The path parameters of a route, for its document (the router has already matched them). */
export const pathParams = <const N extends keyof typeof PATH_PARAMS & string>(
	...names: N[]
) =>
	z.object(
		Object.fromEntries(
			names.map((name) => [
				name,
				z.string().regex(new RegExp(`^${PATH_PARAMS[name]}$`)),
			])
		) as Record<N, z.ZodString>
	);

/** The one answer to input that does not validate (SPEC §4). */
export const invalidRequest = (message: string, issues?: unknown) =>
	new ApiError(400, "invalid_request", message, issues);

/** Params, query and headers: each schema words its own message (`wait must be …`). */
const invalidInput = ({ issues }: z.ZodError) =>
	invalidRequest(issues[0]?.message ?? "invalid request", issues);
const defaultHook: Hook<unknown, AppEnv, string, void> = (result) => {
	if (!result.success) throw invalidInput(result.error);
};

/**
 * A route's headers, read one by one: @hono/zod-openapi's validator copies every header of the
 * request into an object first, on every chat call. The object schema drops other headers anyway, so
 * what it answers, issues included, is the same.
 */
function parseHeaders(c: Context, schema: z.ZodObject): void {
	const headers: Record<string, string> = {};
	for (const name of Object.keys(schema.shape)) {
		const value = c.req.header(name);
		if (value !== undefined) headers[name] = value;
	}
	const parsed = schema.safeParse(headers);
	if (!parsed.success) throw invalidInput(parsed.error);
	c.req.addValidatedData("header", parsed.data);
}

async function parseBody(c: Context, schema: z.ZodType): Promise<void> {
	const text = parseJsonText(await c.req.text());
	if (!text.ok) throw invalidRequest(text.message);
	const parsed = schema.safeParse(text.value);
	if (!parsed.success)
		throw invalidRequest(
			"body does not match the expected shape",
			parsed.error.issues
		);
	c.req.addValidatedData("json", parsed.data as object);
}

type RouteInput<R extends RouteConfig> =
	Parameters<RouteHandler<R>>[0] extends Context<infer _E, infer _P, infer I>
		? I
		: never;
type ConvertPath<T extends string> =
	T extends `${infer Start}/{${infer Param}}${infer Rest}`
		? `${Start}/:${Param}${ConvertPath<Rest>}`
		: T;
export type RouteContext<R extends RouteConfig> = Context<
	AppEnv,
	ConvertPath<R["path"]>,
	RouteInput<R>
>;

/** A JSON body's schema, for the document: what a client may send (`io: "input"`). */
export const jsonSchemaOf = (schema: z.core.$ZodType): SchemaObject => {
	const { $schema: _, ...rest } = z.toJSONSchema(schema, {
		target: "draft-2020-12",
		io: "input",
		unrepresentable: "any",
	});
	return rest as SchemaObject;
};

/** The zod schema of a route's JSON body, if it has one. */
function bodySchemaOf(route: RouteConfig): z.ZodType | undefined {
	const media = route.request?.body?.content["application/json"];
	const schema = media && "schema" in media ? media.schema : undefined;
	return schema instanceof z.ZodType ? schema : undefined;
}

/** `post /sites/{siteId}/chats` → `postSitesSiteIdChats`. */
const operationIdOf = ({ method, path }: RouteConfig) =>
	[method, ...path.split(/[^A-Za-z0-9]+/)]
		.filter(Boolean)
		.map((word, i) => (i ? word[0]!.toUpperCase() + word.slice(1) : word))
		.join("");

/** What the document says of a route: its middleware is code, not part of it. */
function documented({ middleware: _, ...route }: RouteConfig): RouteConfig {
	const body = bodySchemaOf(route);
	route.operationId ??= operationIdOf(route);
	if (!body) return route;
	return {
		...route,
		request: {
			...route.request,
			body: {
				...route.request!.body!,
				required: true,
				content: { "application/json": { schema: jsonSchemaOf(body) } },
			},
		},
	};
}

export class Api extends OpenAPIHono<AppEnv> {
	constructor() {
		super({ defaultHook });
	}

	/** Documents the route, then routes it with its path-parameter patterns and validates its input. */
	endpoint<R extends RouteConfig>(
		route: R,
		handler: (c: RouteContext<NoInfer<R>>) => Response | Promise<Response>
	): this {
		const body = bodySchemaOf(route);
		const headers =
			route.request?.headers instanceof z.ZodObject
				? route.request.headers
				: undefined;
		if (!route.hide) this.openAPIRegistry.registerPath(documented(route));
		// Headers (an object schema) and body are validated here, in that order, as the validators would.
		const request = route.request && {
			...route.request,
			body: undefined,
			...(headers && { headers: undefined }),
		};
		this.openapi(
			{ ...route, path: routingPath(route.path), request, hide: true },
			(async (c: RouteContext<R>) => {
				if (headers) parseHeaders(c, headers);
				if (body) await parseBody(c, body);
				return handler(c);
			}) as never
		);
		return this;
	}
}

/** A route's JSON body: validated by `Api.endpoint`, documented as what a client may send. */
export const jsonBody = <S extends z.ZodType>(schema: S) => ({
	content: { "application/json": { schema } },
});
