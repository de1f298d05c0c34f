import { z } from "zod";
import {
	AgentRoleSchema,
	AgentSchema,
	ChainSchema,
	ChatMessageSchema,
	ChatStatusSchema,
	MAX_REBUILD_MESSAGES,
	MessageIdSchema,
	MessageTypeSchema,
	ReturnResultSchema,
	StartChatResultSchema,
} from "./wire.ts";

// The shapes the clients parse live in wire.ts (zod/mini, small in a browser bundle); the server's own are here.
export {
	AGENT_CHAIN_HEADER,
	AGENT_OFFSET_HEADER,
	AgentLoginResultSchema,
	AgentRoleSchema,
	AgentSchema,
	ChainSchema,
	ChatMessageSchema,
	ChatStatusSchema,
	DivergedSchema,
	ErrorBodySchema,
	MAX_REBUILD_MESSAGES,
	MessageIdSchema,
	MessageTypeSchema,
	ReturnResultSchema,
	StartChatResultSchema,
	VISITOR_CHAIN_HEADER,
	VISITOR_OFFSET_HEADER,
} from "./wire.ts";

/** Hard ceiling on message length; a site may configure a lower one (SPEC §2). */
export const MAX_CONTENT_LENGTH = 4000;
/** Longest a long-poll (`?wait=`) is held, in seconds (SPEC §4). */
export const MAX_WAIT_SECONDS = 25;
/** A start body is at most 16 KiB, so its sealed state (base64 of it, plus metadata) stays under this. */
export const MAX_START_BODY_BYTES = 16 * 1024;
export const MAX_CHAT_STATE_LENGTH = 32 * 1024;

export type MessageType = z.infer<typeof MessageTypeSchema>;

const offset = z.number().int().nonnegative();
const id = MessageIdSchema;
export type ChatMessage = z.infer<typeof ChatMessageSchema>;

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
	visitorChain: z.optional(ChainSchema),
	agentChain: z.optional(ChainSchema),
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

export type ReturnResult = z.infer<typeof ReturnResultSchema>;

export type StartChatResult = z.infer<typeof StartChatResultSchema>;

export const AgentLoginSchema = z.strictObject({
	email: z.email().max(320),
	password: z.string().min(1).max(200),
});

export type AgentRole = z.infer<typeof AgentRoleSchema>;

const agentName = z.string().min(1).max(200);
const agentPassword = z.string().min(8).max(200);
const agentMaxChats = z.number().int().min(1).max(100);

export const CreateAgentSchema = z.strictObject({
	/** A fixed id (SPEC §12: seeded agents have the same id on every deployment, so their tokens work on each); random when left out. */
	id: z
		.string()
		.regex(/^[A-Za-z0-9_-]{1,64}$/, "letters, digits, _ and -, at most 64")
		.optional(),
	email: z.email().max(320),
	name: agentName,
	password: agentPassword,
	maxChats: agentMaxChats.default(5),
	role: z._default(AgentRoleSchema, "agent"),
});

/** A new password or `disabled: true` revokes the agent's tokens (SPEC §6). */
export const UpdateAgentSchema = z
	.strictObject({
		name: agentName,
		password: agentPassword,
		role: AgentRoleSchema,
		maxChats: agentMaxChats,
		disabled: z.boolean(),
	})
	.partial()
	.refine((update) => Object.keys(update).length > 0, "nothing to change");

/** What the admin API answers about an agent: the login answer's fields and whether it is disabled. */
export const AdminAgentSchema = z.object({
	...AgentSchema.shape,
	disabled: z.boolean(),
});
export type AdminAgent = z.infer<typeof AdminAgentSchema>;
