/** Boundary rules beside validation (src/openapi.ts): body size, content length, and the chat headers' shapes. */
import { z } from "@hono/zod-openapi";
import { bodyLimit } from "hono/body-limit";
import { ApiError } from "./errors.ts";
import {
	AGENT_CHAIN_HEADER,
	AGENT_OFFSET_HEADER,
	MAX_CONTENT_LENGTH,
	VISITOR_CHAIN_HEADER,
	VISITOR_OFFSET_HEADER,
} from "./protocol/chat.ts";
import type { Chains } from "../durable-objects/chat-chain.ts";
import type { Offsets } from "./protocol/chat.ts";

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

const OFFSETS_MESSAGE = `${VISITOR_OFFSET_HEADER} and ${AGENT_OFFSET_HEADER} must be non-negative integers`;

/** A missing offset header is 0; anything else must be a plain non-negative integer (SPEC §3). */
const offsetHeader = (description: string) =>
	z
		.string()
		.regex(/^\d{1,15}$/, OFFSETS_MESSAGE)
		.optional()
		.openapi({ description });

/** Each chain optional, and 22 characters of base64url when present (SPEC §3). */
const chainHeader = (header: string) =>
	z
		.string()
		.regex(
			/^[A-Za-z0-9_-]{22}$/,
			`${header} must be 22 characters of base64url`
		)
		.optional()
		.openapi({
			description: `The caller's chain of that stream at its offset; absent = not checked.`,
		});

// hono reads request headers with lower-case names.
const visitorOffset = VISITOR_OFFSET_HEADER.toLowerCase();
const agentOffset = AGENT_OFFSET_HEADER.toLowerCase();
const visitorChain = VISITOR_CHAIN_HEADER.toLowerCase();
const agentChain = AGENT_CHAIN_HEADER.toLowerCase();

/** The offsets a chat call carries (SPEC §3). */
export const OffsetHeadersSchema = z.object({
	[visitorOffset]: offsetHeader(
		"How much of the visitor stream the caller holds (missing = 0)."
	),
	[agentOffset]: offsetHeader(
		"How much of the agent stream the caller holds (missing = 0)."
	),
});

/** The offsets and, optionally, each stream's chain at them (SPEC §3). */
export const ChatHeadersSchema = OffsetHeadersSchema.extend({
	[visitorChain]: chainHeader(VISITOR_CHAIN_HEADER),
	[agentChain]: chainHeader(AGENT_CHAIN_HEADER),
});

type Headers = Partial<Record<string, string>>;

export const offsetsOf = (headers: Headers): Offsets => ({
	visitorDataOffset: Number(headers[visitorOffset] ?? 0),
	agentDataOffset: Number(headers[agentOffset] ?? 0),
});

export function chainsOf(headers: Headers): Chains {
	const chains: Chains = {};
	if (headers[visitorChain]) chains.visitorChain = headers[visitorChain];
	if (headers[agentChain]) chains.agentChain = headers[agentChain];
	return chains;
}
