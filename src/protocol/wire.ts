/**
 * The wire shapes the clients parse (answers and server frames), in `zod/mini` so that the browser
 * bundles carry a few KB of validation instead of the whole of zod (SPEC §11: the widget's window
 * is at most 35 KB gzipped). The server builds its own schemas on these (chat.ts, ws.ts), so each
 * shape is still defined once. Nothing here may import classic `zod`.
 */
import * as z from "zod/mini";

/** At most this many messages in one rebuild request (SPEC §3). */
export const MAX_REBUILD_MESSAGES = 500;
/** Larger frames are refused: a rebuild over the socket is sent in chunks that fit. */
export const MAX_FRAME_CHARS = 1024 * 1024;
/** A socket that has not said hello with a valid token by then is closed (SPEC §6). */
export const HELLO_TIMEOUT_MS = 10_000;

/** Offsets travel in these headers on HTTP (SPEC §3). */
export const VISITOR_OFFSET_HEADER = "X-Visitor-Data-Offset";
export const AGENT_OFFSET_HEADER = "X-Agent-Data-Offset";
/** And each stream's chain at that offset (SPEC §3); absent = not checked. */
export const VISITOR_CHAIN_HEADER = "X-Visitor-Chain";
export const AGENT_CHAIN_HEADER = "X-Agent-Chain";

export const MessageTypeSchema = z.union([
	z.literal(1),
	z.literal(2),
	z.literal(3),
	z.literal(4),
]);

/** Message ids are canonical lower-case UUIDs (SPEC §2): one spelling per id, nothing SQLite could rewrite. */
export const MessageIdSchema = z
	.string()
	.check(
		z.regex(
			/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/,
			"must be a lower-case UUID"
		)
	);
/** A stream's chain at the caller's offset (SPEC §3): 22 characters of base64url. */
export const ChainSchema = z
	.string()
	.check(z.regex(/^[A-Za-z0-9_-]{22}$/, "must be 22 characters of base64url"));
export const DivergedSchema = z
	.array(z.enum(["visitor", "agent"]))
	.check(z.maxLength(2));

const int = () => z.number().check(z.int());
const optionalString = () => z.optional(z.string());

export const ChatMessageSchema = z.object({
	id: MessageIdSchema,
	type: MessageTypeSchema,
	dataOffset: z.number().check(z.int(), z.positive()),
	content: z.string(),
	sendTime: z.number().check(z.int(), z.nonnegative()),
	senderId: z.optional(z.string().check(z.maxLength(128))),
	senderName: z.optional(z.string().check(z.maxLength(200))),
	mac: z.string().check(z.minLength(1), z.maxLength(100)),
});

export const ChatStatusSchema = z.enum(["waiting", "chatting", "ended"]);

export const ErrorBodySchema = z.object({
	type: z.string(),
	message: z.string(),
	issues: z.optional(z.unknown()),
});

const queuePosition = () => z.optional(z.number().check(z.int(), z.positive()));

/** What an answer and a sync frame both carry after their code and offsets. */
const chatNews = {
	messages: z.array(ChatMessageSchema),
	chatState: optionalString(),
	status: z.optional(ChatStatusSchema),
	/** With code 1: the streams whose chains differ below the caller's offsets (SPEC §3). */
	diverged: z.optional(DivergedSchema),
	/** While the chat waits: its place in the site's queue, 1 = next (SPEC §4, §7). */
	queuePosition: queuePosition(),
	/** When the chat's agents changed: the visitor's refreshed sealed state, for its next chat (SPEC §4). */
	visitorState: optionalString(),
};

export const ReturnResultSchema = z.object({
	code: z.union([z.literal(0), z.literal(1), z.literal(-1)]),
	visitorDataOffset: z.number().check(z.int(), z.gte(-1)),
	agentDataOffset: z.number().check(z.int(), z.gte(-1)),
	...chatNews,
	error: z.optional(ErrorBodySchema),
});

export const StartChatResultSchema = z.object({
	chatId: z.string(),
	visitorId: z.string(),
	token: z.string(),
	chatState: z.string(),
	visitorState: optionalString(),
	visitorDataOffset: z.literal(0),
	agentDataOffset: z.literal(0),
	status: z.optional(ChatStatusSchema),
	queuePosition: queuePosition(),
});

/** SPEC §4: supervisors may join or monitor any chat of their site and see its whole history. */
export const AgentRoleSchema = z.enum(["agent", "supervisor"]);
export const AgentSchema = z.object({
	id: z.string(),
	email: z.string(),
	name: z.string(),
	role: AgentRoleSchema,
	maxChats: z.number(),
});
export const AgentLoginResultSchema = z.object({
	token: z.string(),
	agent: AgentSchema,
});

const role = z.enum(["visitor", "agent"]);

/** Frames from a chat's room (SPEC §5). */
export const ServerFrameSchema = z.discriminatedUnion("type", [
	z.object({
		type: z.literal("sync"),
		code: z.union([z.literal(0), z.literal(1)]),
		visitorDataOffset: int(),
		agentDataOffset: int(),
		...chatNews,
	}),
	z.object({
		type: z.literal("rebuild"),
		visitorDataOffset: int(),
		agentDataOffset: int(),
		diverged: z.optional(DivergedSchema),
	}),
	z.object({
		type: z.literal("ack"),
		id: z.string(),
		dataOffset: int(),
		sendTime: z.number(),
		mac: z.string(),
	}),
	z.object({ type: z.literal("message"), message: ChatMessageSchema }),
	z.object({
		type: z.literal("typing"),
		on: z.boolean(),
		role,
		senderId: z.string(),
	}),
	z.object({
		type: z.literal("read"),
		visitorDataOffset: int(),
		agentDataOffset: int(),
		role,
		senderId: z.string(),
	}),
	z.object({
		type: z.literal("state"),
		chatState: z.string(),
		status: z.optional(ChatStatusSchema),
		queuePosition: queuePosition(),
		visitorState: optionalString(),
	}),
	z.object({ type: z.literal("ended") }),
	/** `retryAfter`: with `rate_limited`, the seconds after which the same frame may succeed (HTTP's Retry-After). */
	z.object({
		type: z.literal("error"),
		error: z.object({
			type: z.string(),
			message: z.string(),
			retryAfter: z.optional(z.number()),
		}),
	}),
]);
export type ServerFrame = z.infer<typeof ServerFrameSchema>;

/** What the event endpoints (rating, wrap-up, offline messages) answer when they took the event. */
export const EventAnswerSchema = z.object({
	code: z.literal(0),
	id: z.string(),
});
/** What accept answers: the chat and its state, which now lists the agent. */
export const AcceptAnswerSchema = z.object({
	chatId: z.string(),
	chatState: z.string(),
	status: z.optional(ChatStatusSchema),
});
