import { z } from "zod";

/** Hard ceiling on message length; a site may configure a lower one (SPEC §2). */
export const MAX_CONTENT_LENGTH = 4000;
/** At most this many messages in one rebuild request (SPEC §3). */
export const MAX_REBUILD_MESSAGES = 500;
/** Longest a long-poll (`?wait=`) is held, in seconds (SPEC §4). */
export const MAX_WAIT_SECONDS = 25;
/** A start body is at most 16 KiB, so its sealed state (base64 of it, plus metadata) stays under this. */
export const MAX_START_BODY_BYTES = 16 * 1024;
export const MAX_CHAT_STATE_LENGTH = 32 * 1024;

export const MessageTypeSchema = z.union([z.literal(1), z.literal(2), z.literal(3), z.literal(4)]);
export type MessageType = z.infer<typeof MessageTypeSchema>;

const offset = z.number().int().nonnegative();
/** Message ids are canonical lower-case UUIDs (SPEC §2): one spelling per id, nothing SQLite could rewrite. */
export const MessageIdSchema = z.string().regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/, "must be a lower-case UUID");
const id = MessageIdSchema;
/** A stream's chain at the caller's offset (SPEC §3): 22 characters of base64url. */
export const ChainSchema = z.string().regex(/^[A-Za-z0-9_-]{22}$/, "must be 22 characters of base64url");
export const DivergedSchema = z.array(z.enum(["visitor", "agent"])).max(2);

export const ChatMessageSchema = z.object({
	id,
	type: MessageTypeSchema,
	dataOffset: z.number().int().positive(),
	content: z.string(),
	sendTime: z.number().int().nonnegative(),
	senderId: z.string().max(128).optional(),
	senderName: z.string().max(200).optional(),
	mac: z.string().min(1).max(100),
});
export type ChatMessage = z.infer<typeof ChatMessageSchema>;

export const ChatStatusSchema = z.enum(["waiting", "chatting", "ended"]);
export type ChatStatus = z.infer<typeof ChatStatusSchema>;

export const SendMessageSchema = z.strictObject({
	id,
	content: z.string().min(1),
	/** The shortcut of the canned message an agent's console sent (SPEC §4): logged as cannedMessage.useLog. */
	canned: z.string().trim().min(1).max(100).optional(),
});
export type SendMessage = z.infer<typeof SendMessageSchema>;

export const RebuildChatSchema = z.strictObject({
	chatState: z.string().max(MAX_CHAT_STATE_LENGTH).optional(),
	visitorDataOffset: offset,
	agentDataOffset: offset,
	visitorChain: ChainSchema.optional(),
	agentChain: ChainSchema.optional(),
	messages: z.array(ChatMessageSchema).max(MAX_REBUILD_MESSAGES),
});
export type RebuildChat = z.infer<typeof RebuildChatSchema>;

export const VisitorInfoSchema = z.looseObject({
	name: z.string().max(200).optional(),
	email: z.email().max(320).optional(),
});

export const StartChatSchema = z.strictObject({
	visitor: VisitorInfoSchema.default({}),
	prechat: z.record(z.string(), z.unknown()).optional(),
	department: z.string().max(100).optional(),
	customVariables: z.record(z.string(), z.string().max(1000)).optional(),
	visitorState: z.string().max(4096).optional(),
});
export type StartChat = z.infer<typeof StartChatSchema>;

export interface Offsets {
	visitorDataOffset: number;
	agentDataOffset: number;
}

export const ErrorBodySchema = z.object({
	type: z.string(),
	message: z.string(),
	issues: z.unknown().optional(),
});

export const ReturnResultSchema = z.object({
	code: z.union([z.literal(0), z.literal(1), z.literal(-1)]),
	visitorDataOffset: z.number().int().min(-1),
	agentDataOffset: z.number().int().min(-1),
	messages: z.array(ChatMessageSchema),
	chatState: z.string().optional(),
	status: ChatStatusSchema.optional(),
	/** With code 1: the streams whose chains differ below the caller's offsets (SPEC §3). */
	diverged: DivergedSchema.optional(),
	/** While the chat waits: its place in the site's queue, 1 = next (SPEC §4, §7). */
	queuePosition: z.number().int().positive().optional(),
	/** When the chat's agents changed: the visitor's refreshed sealed state, for its next chat (SPEC §4). */
	visitorState: z.string().optional(),
	error: ErrorBodySchema.optional(),
});
export type ReturnResult = z.infer<typeof ReturnResultSchema>;

export const StartChatResultSchema = z.object({
	chatId: z.string(),
	visitorId: z.string(),
	token: z.string(),
	chatState: z.string(),
	visitorState: z.string().optional(),
	visitorDataOffset: z.literal(0),
	agentDataOffset: z.literal(0),
	status: ChatStatusSchema.optional(),
	queuePosition: z.number().int().positive().optional(),
});
export type StartChatResult = z.infer<typeof StartChatResultSchema>;

export const AgentLoginSchema = z.strictObject({
	email: z.email().max(320),
	password: z.string().min(1).max(200),
});

/** SPEC §4: supervisors may join or monitor any chat of their site and see its whole history. */
export const AgentRoleSchema = z.enum(["agent", "supervisor"]);
export type AgentRole = z.infer<typeof AgentRoleSchema>;

export const AgentSchema = z.object({ id: z.string(), email: z.string(), name: z.string(), role: AgentRoleSchema, maxChats: z.number() });

export const AgentLoginResultSchema = z.object({ token: z.string(), agent: AgentSchema });

const agentName = z.string().min(1).max(200);
const agentPassword = z.string().min(8).max(200);
const agentMaxChats = z.number().int().min(1).max(100);

export const CreateAgentSchema = z.strictObject({
	/** A fixed id (SPEC §12: seeded agents have the same id on every deployment, so their tokens work on each); random when left out. */
	id: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, "letters, digits, _ and -, at most 64").optional(),
	email: z.email().max(320),
	name: agentName,
	password: agentPassword,
	maxChats: agentMaxChats.default(5),
	role: AgentRoleSchema.default("agent"),
});

/** A new password or `disabled: true` revokes the agent's tokens (SPEC §6). */
export const UpdateAgentSchema = z
	.strictObject({ name: agentName, password: agentPassword, role: AgentRoleSchema, maxChats: agentMaxChats, disabled: z.boolean() })
	.partial()
	.refine((update) => Object.keys(update).length > 0, "nothing to change");

/** What the admin API answers about an agent: the login answer's fields and whether it is disabled. */
export const AdminAgentSchema = AgentSchema.extend({ disabled: z.boolean() });
export type AdminAgent = z.infer<typeof AdminAgentSchema>;

/** Offsets travel in these headers on HTTP (SPEC §3). */
export const VISITOR_OFFSET_HEADER = "X-Visitor-Data-Offset";
export const AGENT_OFFSET_HEADER = "X-Agent-Data-Offset";
/** And each stream's chain at that offset (SPEC §3); absent = not checked. */
export const VISITOR_CHAIN_HEADER = "X-Visitor-Chain";
export const AGENT_CHAIN_HEADER = "X-Agent-Chain";

/** Header values: a missing header is 0; anything else must be a plain non-negative integer. */
export const OffsetHeaderSchema = z
	.string()
	.regex(/^\d{1,15}$/, "must be a non-negative integer")
	.transform(Number)
	.optional()
	.transform((v) => v ?? 0);
