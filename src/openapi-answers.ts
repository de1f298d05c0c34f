/**
 * The answers routes declare (SPEC §4), from the zod schemas in src/protocol/: named wire shapes are
 * components of the document, every error is SPEC §4's error body, and each security scheme is here.
 */
import { z } from "zod";
import { jsonSchemaOf } from "./openapi.ts";
import {
	AGENT_OFFSET_HEADER,
	ErrorBodySchema,
	ReturnResultSchema,
	VISITOR_OFFSET_HEADER,
} from "./protocol/chat.ts";
import { AcceptAnswerSchema } from "./protocol/wire.ts";
import type {
	HeadersObject,
	SchemaObject,
	SecurityRequirementObject,
} from "openapi3-ts/oas31";

/** Schemas named in the document's components; filled as routes are declared. */
export const componentSchemas: Record<string, SchemaObject> = {};

/** A named wire shape: a component, referred to from every answer that carries it. */
export function named(name: string, schema: z.core.$ZodType): SchemaObject {
	componentSchemas[name] ??= jsonSchemaOf(schema);
	return { $ref: `#/components/schemas/${name}` } as SchemaObject;
}

export const ErrorResponseSchema = z.object({
	code: z.literal(-1),
	error: ErrorBodySchema,
});

const errorBody = () => named("Error", ErrorResponseSchema);

/** A zod schema, or a JSON Schema already (a `named` reference, an `anyOf` of them). */
type Schema = z.core.$ZodType | SchemaObject;
const schemaOf = (schema: Schema): SchemaObject =>
	"_zod" in schema
		? jsonSchemaOf(schema as z.core.$ZodType)
		: (schema as SchemaObject);

/** A JSON answer. */
export const answer = (
	description: string,
	schema: Schema,
	headers?: HeadersObject
) => ({
	description,
	...(headers ? { headers } : {}),
	content: { "application/json": { schema: schemaOf(schema) } },
});

/** ReturnResult answers carry the room's offsets in headers too (SPEC §3). */
export const OFFSET_ANSWER_HEADERS: HeadersObject = {
	[VISITOR_OFFSET_HEADER]: {
		description: "The room's visitor offset, as in the body.",
		schema: { type: "integer" },
	},
	[AGENT_OFFSET_HEADER]: {
		description: "The room's agent offset, as in the body.",
		schema: { type: "integer" },
	},
};

/** A chat call's answer (SPEC §2): the room's ReturnResult, offsets in headers too. */
export const returnResult = (description: string) =>
	answer(
		description,
		named("ReturnResult", ReturnResultSchema),
		OFFSET_ANSWER_HEADERS
	);

/** A chat the dispatcher handed on (accept, join, transfer): the chat taken, or the room's code 1. */
export const chatTaken = (description: string) =>
	answer(
		description,
		{
			anyOf: [
				named("AcceptAnswer", AcceptAnswerSchema),
				named("ReturnResult", ReturnResultSchema),
			],
		},
		OFFSET_ANSWER_HEADERS
	);

const RETRY_AFTER: HeadersObject = {
	"Retry-After": {
		description: "Seconds after which the same call may succeed.",
		schema: { type: "integer" },
	},
};

const ERRORS = {
	400: "invalid_request: the input does not validate (malformed JSON included)",
	401: "unauthorized: no token, a wrong or expired one, or a revoked one",
	403: "forbidden, not_in_chat, banned, invalid_mac, invalid_visitor_state, invalid_chat_state: the caller may not do this",
	404: "not_found: no such site, chat or record",
	409: "conflict, chat_ended, at_capacity: the chat or record is not in the state this call needs",
	413: "payload_too_large: the body or a message's content is too large",
	426: "upgrade_required: this endpoint speaks WebSocket",
	429: "rate_limited: too many calls; Retry-After says when to try again",
} as const;

/**
 * The error answers a route documents, each with SPEC §4's body; `default` covers the rest (500
 * internal_error, 503 unavailable with Retry-After while a Durable Object restarts).
 */
export function errors(...statuses: (keyof typeof ERRORS)[]) {
	const responses: Record<string, ReturnType<typeof answer>> = {};
	for (const status of statuses)
		responses[status] = answer(
			ERRORS[status],
			errorBody(),
			status === 429 ? RETRY_AFTER : undefined
		);
	responses.default = answer(
		"An error in SPEC §4's shape: internal_error (500), unavailable (503, with Retry-After), …",
		errorBody()
	);
	return responses;
}

/** A WebSocket upgrade (SPEC §5): the token comes in the hello frame, never in the URL. */
export const socketUpgrade = (owner: string) => ({
	security: NO_TOKEN,
	responses: {
		101: { description: `Switching Protocols: the socket is ${owner}` },
		...errors(404, 426, 429),
	},
});

/** Security requirements (the schemes are in the document's components). */
type Security = SecurityRequirementObject[];
export const VISITOR_OR_AGENT: Security = [
	{ visitorToken: [] },
	{ agentToken: [] },
];
export const AGENT: Security = [{ agentToken: [] }];
export const ADMIN: Security = [{ adminToken: [] }];
export const NO_TOKEN: Security = [];

export const SECURITY_SCHEMES = {
	visitorToken: {
		type: "http",
		scheme: "bearer",
		bearerFormat: "JWT",
		description:
			"The visitor token a chat start answers, for that chat only (SPEC §6).",
	},
	agentToken: {
		type: "http",
		scheme: "bearer",
		bearerFormat: "JWT",
		description:
			"The agent token `POST …/agent-sessions` answers, for its site (SPEC §6).",
	},
	adminToken: {
		type: "http",
		scheme: "bearer",
		description: "The deployment's ADMIN_TOKEN secret.",
	},
} as const;
