/**
 * The JSON answers of the HTTP API (SPEC §4) that no client parses with a schema of its own: they are
 * here for the API document (/v1/openapi.json), which the integration tests check every answer against.
 */
import { z } from "zod";
import { AgentSummarySchema, QueueEntrySchema } from "./agent-frames.ts";
import { AdminAgentSchema } from "./chat.ts";
import { AgentStatusSchema } from "./dispatch.ts";
import { TranscriptMessageSchema } from "./events.ts";

/** An event endpoint took the event (`id`: its uniqueId, or the offline message's id). */
export const AcceptedEventSchema = z.object({
	code: z.literal(0),
	id: z.string(),
});

export const AvailabilitySchema = z.object({
	online: z.boolean(),
	waiting: z.number().int().nonnegative(),
});
export const StatusAnswerSchema = z.object({ status: AgentStatusSchema });
export const WaitingListSchema = z.object({
	waiting: z.array(QueueEntrySchema),
});
export const AgentListSchema = z.object({
	agents: z.array(AgentSummarySchema),
});

const liveChat = {
	chatId: z.string(),
	visitorName: z.string().optional(),
	requestTime: z.number().optional(),
};
export const AgentChatsSchema = z.object({
	chats: z.array(z.object(liveChat)),
});
export const LiveChatsSchema = z.object({
	chats: z.array(z.object({ ...liveChat, agentIds: z.array(z.string()) })),
});
export const InvitedSchema = z.object({ chatId: z.string() });

export const ConsoleConfigSchema = z.object({
	routing: z.object({ mode: z.enum(["auto", "manual"]) }),
	cannedMessages: z.array(z.object({ shortcut: z.string(), text: z.string() })),
	wrapupCategories: z.array(z.string()),
});

export const VisitResultSchema = z.object({
	visitorId: z.string(),
	visitorState: z.string(),
	tracked: z.boolean(),
});
export const TrackedVisitorsSchema = z.object({
	visitors: z.array(
		z.object({
			visitorId: z.string(),
			page: z.string().optional(),
			title: z.string().optional(),
			referrer: z.string().optional(),
			firstSeen: z.number(),
			lastSeen: z.number(),
			timeOnSite: z.number(),
			chatting: z.boolean(),
			connected: z.boolean(),
			banned: z.boolean(),
		})
	),
});
/** Pushed to the visitor's (or agent's) open sockets: how many took it. */
export const DeliveredSchema = z.object({
	code: z.literal(0),
	delivered: z.number().int().nonnegative(),
});
export const BannedSchema = z.object({
	code: z.literal(0),
	visitorId: z.string(),
	until: z.number().nullable(),
});
export const PreferencesSavedSchema = z.object({
	code: z.literal(0),
	id: z.string(),
	preferences: z.record(z.string(), z.unknown()),
});

export const AdminAgentAnswerSchema = z.object({ agent: AdminAgentSchema });

const ChatSummarySchema = z.object({
	chatId: z.string(),
	visitorId: z.string(),
	visitor: z.object({
		name: z.string().nullable(),
		email: z.string().nullable(),
	}),
	agentIds: z.array(z.string()),
	requestTime: z.number(),
	startTime: z.number().nullable(),
	endTime: z.number(),
	messageCount: z.number(),
	rating: z
		.object({ rating: z.number(), comment: z.string().nullable() })
		.nullable(),
});
export const HistoryPageSchema = z.object({
	chats: z.array(ChatSummarySchema),
	/** The `before` of the next page; null on the last. */
	next: z.string().nullable(),
});
export const HistoryChatSchema = z.object({
	chat: ChatSummarySchema.extend({
		prechat: z.unknown().optional(),
		ticket: z.unknown().optional(),
		wrapup: z.unknown().optional(),
		wrapups: z.array(z.record(z.string(), z.unknown())),
	}),
	messages: z.array(TranscriptMessageSchema),
});
