/** WebSocket frames (SPEC §5). Every frame from a client is parsed with ClientFrameSchema before anything else. */
import { z } from "zod";
import {
	ChainSchema,
	MAX_CHAT_STATE_LENGTH,
	RebuildChatSchema,
	SendMessageSchema,
} from "./chat.ts";

// What the room sends (ServerFrameSchema) is parsed by the clients: it lives in wire.ts, in zod/mini.
export {
	HELLO_TIMEOUT_MS,
	MAX_FRAME_CHARS,
	ServerFrameSchema,
	type ServerFrame,
} from "./wire.ts";
export const CLOSE_UNAUTHORIZED = 4401;
/** No hello within HELLO_TIMEOUT_MS (SPEC §6). */
export const CLOSE_NO_HELLO = 4408;
/** Banned, or not allowed in this chat (an agent that is not one of its agents). */
export const CLOSE_FORBIDDEN = 4403;
/** A limit exceeded: frames per second. */
export const CLOSE_LIMIT = 4429;
/** Before hello a socket may send only a hello, and a hello is small. */
export const MAX_HELLO_CHARS = 16 * 1024;

const offset = z.number().int().nonnegative();

export const HelloFrameSchema = z.strictObject({
	type: z.literal("hello"),
	token: z.string().min(1).max(4096),
	visitorDataOffset: offset,
	agentDataOffset: offset,
	visitorChain: z.optional(ChainSchema),
	agentChain: z.optional(ChainSchema),
	chatState: z.string().max(MAX_CHAT_STATE_LENGTH).optional(),
});

export type HelloFrame = z.infer<typeof HelloFrameSchema>;

export const SendFrameSchema = z.strictObject({
	type: z.literal("send"),
	message: SendMessageSchema,
	visitorDataOffset: offset.optional(),
	agentDataOffset: offset.optional(),
	visitorChain: z.optional(ChainSchema),
	agentChain: z.optional(ChainSchema),
});

export const RebuildFrameSchema = RebuildChatSchema.extend({
	type: z.literal("rebuild"),
});

export const TypingFrameSchema = z.strictObject({
	type: z.literal("typing"),
	on: z.boolean(),
});

export const ReadFrameSchema = z.strictObject({
	type: z.literal("read"),
	visitorDataOffset: offset,
	agentDataOffset: offset,
});

export const ClientFrameSchema = z.discriminatedUnion("type", [
	HelloFrameSchema,
	SendFrameSchema,
	RebuildFrameSchema,
	TypingFrameSchema,
	ReadFrameSchema,
]);
export type ClientFrame = z.infer<typeof ClientFrameSchema>;
