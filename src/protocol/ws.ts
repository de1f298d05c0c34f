/** WebSocket frames (SPEC §5). Every frame from a client is parsed with ClientFrameSchema before anything else. */
import { z } from "zod";
import { ChainSchema, ChatMessageSchema, DivergedSchema, MAX_CHAT_STATE_LENGTH, RebuildChatSchema, SendMessageSchema } from "./chat.ts";

/** Larger frames are refused: a rebuild over the socket is sent in chunks that fit. */
export const MAX_FRAME_CHARS = 1024 * 1024;
/** A socket that has not said hello with a valid token by then is closed with 4401. */
export const HELLO_TIMEOUT_MS = 10_000;
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
	visitorChain: ChainSchema.optional(),
	agentChain: ChainSchema.optional(),
	chatState: z.string().max(MAX_CHAT_STATE_LENGTH).optional(),
});

export type HelloFrame = z.infer<typeof HelloFrameSchema>;

export const SendFrameSchema = z.strictObject({
	type: z.literal("send"),
	message: SendMessageSchema,
	visitorDataOffset: offset.optional(),
	agentDataOffset: offset.optional(),
	visitorChain: ChainSchema.optional(),
	agentChain: ChainSchema.optional(),
});

export const RebuildFrameSchema = RebuildChatSchema.extend({ type: z.literal("rebuild") });

export const TypingFrameSchema = z.strictObject({ type: z.literal("typing"), on: z.boolean() });

export const ReadFrameSchema = z.strictObject({ type: z.literal("read"), visitorDataOffset: offset, agentDataOffset: offset });

export const ClientFrameSchema = z.discriminatedUnion("type", [HelloFrameSchema, SendFrameSchema, RebuildFrameSchema, TypingFrameSchema, ReadFrameSchema]);
export type ClientFrame = z.infer<typeof ClientFrameSchema>;

const role = z.enum(["visitor", "agent"]);

export const ServerFrameSchema = z.discriminatedUnion("type", [
	z.object({
		type: z.literal("sync"),
		code: z.union([z.literal(0), z.literal(1)]),
		visitorDataOffset: z.number().int(),
		agentDataOffset: z.number().int(),
		messages: z.array(ChatMessageSchema),
		chatState: z.string().optional(),
		status: z.enum(["waiting", "chatting", "ended"]).optional(),
		diverged: DivergedSchema.optional(),
		queuePosition: z.number().int().positive().optional(),
		visitorState: z.string().optional(),
	}),
	z.object({ type: z.literal("rebuild"), visitorDataOffset: z.number().int(), agentDataOffset: z.number().int(), diverged: DivergedSchema.optional() }),
	z.object({ type: z.literal("ack"), id: z.string(), dataOffset: z.number().int(), sendTime: z.number(), mac: z.string() }),
	z.object({ type: z.literal("message"), message: ChatMessageSchema }),
	z.object({ type: z.literal("typing"), on: z.boolean(), role, senderId: z.string() }),
	z.object({ type: z.literal("read"), visitorDataOffset: z.number().int(), agentDataOffset: z.number().int(), role, senderId: z.string() }),
	z.object({
		type: z.literal("state"),
		chatState: z.string(),
		status: z.enum(["waiting", "chatting", "ended"]).optional(),
		queuePosition: z.number().int().positive().optional(),
		visitorState: z.string().optional(),
	}),
	z.object({ type: z.literal("ended") }),
	z.object({ type: z.literal("error"), error: z.object({ type: z.string(), message: z.string() }) }),
]);
export type ServerFrame = z.infer<typeof ServerFrameSchema>;
