/** Boundary parsing: every body and header is validated before anything else sees it. */
import type { Context } from "hono";
import { bodyLimit } from "hono/body-limit";
import type { z } from "zod";
import { AGENT_OFFSET_HEADER, MAX_CONTENT_LENGTH, OffsetHeaderSchema, VISITOR_OFFSET_HEADER, type Offsets } from "./protocol/chat.ts";
import { ApiError } from "./errors.ts";

export const limitBody = (maxSize: number) =>
	bodyLimit({
		maxSize,
		onError: () => {
			throw new ApiError(413, "payload_too_large", `request body is larger than ${maxSize} bytes`);
		},
	});

export async function parseJson<S extends z.ZodType>(c: Context, schema: S): Promise<z.infer<S>> {
	let raw: unknown;
	try {
		raw = JSON.parse(await c.req.text());
	} catch {
		throw new ApiError(400, "invalid_request", "body is not valid JSON");
	}
	const parsed = schema.safeParse(raw);
	if (!parsed.success) throw new ApiError(400, "invalid_request", "body does not match the expected shape", parsed.error.issues);
	return parsed.data;
}

/** Oversized content is its own error (413), not a shape error. */
export function assertContentLength(contents: Iterable<string>): void {
	for (const content of contents) {
		if (content.length > MAX_CONTENT_LENGTH) {
			throw new ApiError(413, "payload_too_large", `content is longer than ${MAX_CONTENT_LENGTH} characters`);
		}
	}
}

export function parseOffsets(c: Context): Offsets {
	const visitor = OffsetHeaderSchema.safeParse(c.req.header(VISITOR_OFFSET_HEADER));
	const agent = OffsetHeaderSchema.safeParse(c.req.header(AGENT_OFFSET_HEADER));
	if (!visitor.success || !agent.success) {
		throw new ApiError(400, "invalid_request", `${VISITOR_OFFSET_HEADER} and ${AGENT_OFFSET_HEADER} must be non-negative integers`);
	}
	return { visitorDataOffset: visitor.data, agentDataOffset: agent.data };
}
