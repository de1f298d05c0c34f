/** The SiteDispatcher's wire shapes (SPEC §4, §7): agent status, transfer, and the agent socket's frames. */
import { z } from "zod";
import { MessageIdSchema } from "./chat.ts";

export const AgentStatusSchema = z.enum(["online", "away", "offline"]);

export const SetStatusSchema = z.strictObject({ status: AgentStatusSchema });

export const TransferSchema = z
	.strictObject({
		toAgentId: z.string().min(1).max(64),
		/**
		 * What the transferring agent's copy holds: a room behind it answers code 1, so the agent uploads
		 * first (once out of the chat, its copy can never give the room what only it holds).
		 */
		visitorDataOffset: z.number().int().min(0).optional(),
		agentDataOffset: z.number().int().min(0).optional(),
	})
	.refine(
		(t) =>
			(t.visitorDataOffset === undefined) === (t.agentDataOffset === undefined),
		{
			message:
				"visitorDataOffset and agentDataOffset come together, or not at all",
		}
	);

export const InviteAgentSchema = z.strictObject({
	agentId: z.string().min(1).max(64),
});

/** Chat ids are lower-case UUIDs, like message ids. */
const chatId = MessageIdSchema;

/** A console lists at most this many live chats in its hello (far above any maxChats). */
export const MAX_HELLO_CHATS = 200;

export const AgentHelloFrameSchema = z.strictObject({
	type: z.literal("hello"),
	token: z.string().min(1).max(4096),
	status: AgentStatusSchema.default("online"),
	chats: z.array(chatId).max(MAX_HELLO_CHATS).default([]),
});

export const AgentClientFrameSchema = z.discriminatedUnion("type", [
	AgentHelloFrameSchema,
	z.strictObject({ type: z.literal("status"), status: AgentStatusSchema }),
	z.strictObject({ type: z.literal("accept"), chatId }),
]);
export type AgentClientFrame = z.infer<typeof AgentClientFrameSchema>;

/** Why a chat left an agent (SPEC §7); `stale`: a console's claim its room refused, `unanswered`: reassigned (§16). */
export type ReleaseReason = "transferred" | "ended" | "stale" | "unanswered";

export interface AgentSummary {
	id: string;
	name: string;
	role: "agent" | "supervisor";
	status: z.infer<typeof AgentStatusSchema>;
	maxChats: number;
	free: number;
}

export interface QueueEntry {
	chatId: string;
	visitorName?: string;
	department?: string;
	requestTime: number;
	position: number;
}

export type AgentServerFrame =
	| { type: "presence"; agents: AgentSummary[] }
	| { type: "queue"; waiting: QueueEntry[] }
	| { type: "assigned"; chatId: string; chatState: string }
	| { type: "released"; chatId: string; reason: ReleaseReason }
	| { type: "invited"; chatId: string; by: string }
	| { type: "private"; from: string; message: string }
	| { type: "accepted"; chatId: string; chatState: string }
	| {
			type: "error";
			chatId?: string;
			error: { type: string; message: string };
	  };
