/**
 * The agent socket's server frames (SPEC §7) as clients read them. The dispatcher builds them as
 * `AgentServerFrame` (dispatch.ts); this schema must keep producing that type, so the two cannot drift.
 */
import { z } from "zod";
import { AgentRoleSchema } from "./chat.ts";
import { AgentStatusSchema } from "./dispatch.ts";
import type { AgentServerFrame } from "./dispatch.ts";

export const AgentSummarySchema = z.object({
	id: z.string(),
	name: z.string(),
	role: AgentRoleSchema,
	status: AgentStatusSchema,
	maxChats: z.number(),
	free: z.number(),
});

export const QueueEntrySchema = z.object({
	chatId: z.string(),
	visitorName: z.string().optional(),
	department: z.string().optional(),
	requestTime: z.number(),
	position: z.number(),
});

export type AgentStatus = z.infer<typeof AgentStatusSchema>;

const errorBody = z.object({ type: z.string(), message: z.string() });

export const AgentServerFrameSchema = z.discriminatedUnion("type", [
	z.object({
		type: z.literal("presence"),
		agents: z.array(AgentSummarySchema),
	}),
	z.object({ type: z.literal("queue"), waiting: z.array(QueueEntrySchema) }),
	z.object({
		type: z.literal("assigned"),
		chatId: z.string(),
		chatState: z.string(),
	}),
	z.object({
		type: z.literal("accepted"),
		chatId: z.string(),
		chatState: z.string(),
	}),
	z.object({
		type: z.literal("released"),
		chatId: z.string(),
		reason: z.enum(["transferred", "ended", "stale", "unanswered"]),
	}),
	z.object({ type: z.literal("invited"), chatId: z.string(), by: z.string() }),
	z.object({
		type: z.literal("private"),
		from: z.string(),
		message: z.string(),
	}),
	z.object({
		type: z.literal("error"),
		chatId: z.string().optional(),
		error: errorBody,
	}),
]) satisfies z.ZodType<AgentServerFrame>;

/** What `accept` and `transfer` answer on success: the chat and its sealed state, which lists the agent. */
export const ChatTakenSchema = z.object({
	chatId: z.string(),
	chatState: z.string(),
});
