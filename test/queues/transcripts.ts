import { env } from "cloudflare:test";
import { chatTranscriptId } from "../../queues/publisher.ts";
import type {
	ChatEndPayload,
	ChatTranscriptPayload,
	TranscriptMessage,
} from "../../src/protocol/events.ts";

/** chat.end and chat.transcript payloads built by hand, and what persistence made of them. */
export const T0 = 1_700_000_000_000;

/** A message of the visitor's stream (type 1) or an agent's (type 2), at an offset of that stream. */
export function message(
	type: 1 | 2,
	dataOffset: number,
	sendTime: number,
	senderId: string
): TranscriptMessage {
	return {
		id: crypto.randomUUID(),
		type,
		dataOffset,
		content: `${type === 1 ? "visitor" : senderId} #${dataOffset}`,
		sendTime: T0 + sendTime,
		senderId,
	};
}

export function chatEnd(
	siteId: string,
	chatId: string,
	agentIds: string[],
	transcript: TranscriptMessage[]
): ChatEndPayload {
	return {
		id: chatId,
		siteId,
		visitorId: "visitor-1",
		sessionId: chatId,
		visitor: { name: "Vera", email: null },
		ticket: {
			id: `tkt_${chatId.replaceAll("-", "")}`,
			ifNew: true,
			title: "Chat with Vera",
		},
		prechat: {
			name: null,
			email: null,
			phone: null,
			productService: null,
			department: null,
		},
		wrapup: null,
		agentIds,
		ifEnterQueue: true,
		requestTime: T0,
		startTime: T0 + 500,
		endTime: T0 + 10_000,
		transcript,
	};
}

export const transcriptOf = (
	siteId: string,
	chatId: string,
	agentIds: string[],
	transcript: TranscriptMessage[]
): ChatTranscriptPayload => ({
	id: chatId,
	siteId,
	visitorId: "visitor-1",
	agentIds,
	transcript,
	endTime: T0 + 10_000,
});

/** The transcript's uniqueId, from the highest offsets in it (as the room names it). */
export const transcriptIdOf = (payload: ChatTranscriptPayload) => {
	const top = (type: number) =>
		Math.max(
			0,
			...payload.transcript
				.filter((m) => m.type === type)
				.map((m) => m.dataOffset)
		);
	return chatTranscriptId(payload.id, top(1), top(2));
};

export const storedIds = async (chatId: string) =>
	(
		await env.DB.prepare(
			`SELECT id FROM chat_messages WHERE chat_id = ? ORDER BY send_time, type <> 1, data_offset`
		)
			.bind(chatId)
			.all<{ id: string }>()
	).results.map((r) => r.id);
export const storedChat = (chatId: string) =>
	env.DB.prepare(
		`SELECT agent_ids AS agentIds, message_count AS messageCount, end_time AS endTime FROM chats WHERE id = ?`
	)
		.bind(chatId)
		.first<{ agentIds: string; messageCount: number; endTime: number }>();
