/** Boundary parsing: every body and header is validated before anything else sees it. */
import { bodyLimit } from "hono/body-limit";
import { ApiError } from "./errors.ts";
import {
	AGENT_CHAIN_HEADER,
	AGENT_OFFSET_HEADER,
	ChainSchema,
	MAX_CONTENT_LENGTH,
	OffsetHeaderSchema,
	VISITOR_CHAIN_HEADER,
	VISITOR_OFFSET_HEADER,
} from "./protocol/chat.ts";
import { parseJsonText } from "./protocol/json-text.ts";
import type { Chains } from "../durable-objects/chat-chain.ts";
import type { Offsets } from "./protocol/chat.ts";
import type { Context } from "hono";
import type { z } from "zod";

export const limitBody = (maxSize: number) =>
	bodyLimit({
		maxSize,
		onError: () => {
			throw new ApiError(
				413,
				"payload_too_large",
				`request body is larger than ${maxSize} bytes`
			);
		},
	});

export async function parseJson<S extends z.ZodType>(
	c: Context,
	schema: S
): Promise<z.infer<S>> {
	const text = parseJsonText(await c.req.text());
	if (!text.ok) throw new ApiError(400, "invalid_request", text.message);
	const parsed = schema.safeParse(text.value);
	if (!parsed.success)
		throw new ApiError(
			400,
			"invalid_request",
			"body does not match the expected shape",
			parsed.error.issues
		);
	return parsed.data;
}

/** Oversized content is its own error (413), not a shape error. */
export function assertContentLength(contents: Iterable<string>): void {
	for (const content of contents) {
		if (content.length > MAX_CONTENT_LENGTH) {
			throw new ApiError(
				413,
				"payload_too_large",
				`content is longer than ${MAX_CONTENT_LENGTH} characters`
			);
		}
	}
}

export function parseOffsets(c: Context): Offsets {
	const visitor = OffsetHeaderSchema.safeParse(
		c.req.header(VISITOR_OFFSET_HEADER)
	);
	const agent = OffsetHeaderSchema.safeParse(c.req.header(AGENT_OFFSET_HEADER));
	if (!visitor.success || !agent.success) {
		throw new ApiError(
			400,
			"invalid_request",
			`${VISITOR_OFFSET_HEADER} and ${AGENT_OFFSET_HEADER} must be non-negative integers`
		);
	}
	return { visitorDataOffset: visitor.data, agentDataOffset: agent.data };
}

/** The caller's chains (SPEC §3): each header optional, and 22 characters of base64url when present. */
export function parseChains(c: Context): Chains {
	const chains: Chains = {};
	for (const [header, field] of [
		[VISITOR_CHAIN_HEADER, "visitorChain"],
		[AGENT_CHAIN_HEADER, "agentChain"],
	] as const) {
		const raw = c.req.header(header);
		if (raw === undefined) continue;
		const parsed = ChainSchema.safeParse(raw);
		if (!parsed.success)
			throw new ApiError(
				400,
				"invalid_request",
				`${header} must be 22 characters of base64url`
			);
		chains[field] = parsed.data;
	}
	return chains;
}
