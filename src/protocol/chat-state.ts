import { z } from "zod";
import { ChatStatusSchema } from "./chat.ts";

/** What a sealed chatState holds (SPEC §6). `v` grows on every change, so the newest copy wins a rebuild. */
export const ChatMetaSchema = z.object({
	v: z.number().int().positive(),
	siteId: z.string(),
	chatId: z.string(),
	visitorId: z.string(),
	visitor: z.record(z.string(), z.unknown()),
	prechat: z.record(z.string(), z.unknown()).optional(),
	department: z.string().optional(),
	customVariables: z.record(z.string(), z.string()).optional(),
	status: ChatStatusSchema,
	agentIds: z.array(z.string()),
	/** Agents who left the chat by a transfer: still in its history and its chat.end. */
	pastAgentIds: z.array(z.string()).optional(),
	/** The visitor's last agent when the chat began (its sealed visitorState), for sticky routing. */
	lastAgentId: z.string().optional(),
	/** Names shown on agents' messages: kept here, sealed, because a message's mac does not cover its senderName. */
	agentNames: z.record(z.string(), z.string()),
	beginTime: z.number().int(),
	/** When the first agent joined. */
	startTime: z.number().int().optional(),
	/** Who that was: two copies whose first agents differ were routed apart (a split brain), and the earlier one keeps the chat. */
	firstAgentId: z.string().optional(),
	/** The latest wrap-up, carried into chat.end when it comes before the end. */
	wrapup: z
		.object({
			agentId: z.string(),
			category: z.string().optional(),
			comment: z.string().optional(),
		})
		.optional(),
	endTime: z.number().int().optional(),
	limits: z.object({
		maxMessageLength: z.number().int().positive(),
		messagesPerMinutePerVisitor: z.number().int().positive(),
	}),
});
export type ChatMeta = z.infer<typeof ChatMetaSchema>;
