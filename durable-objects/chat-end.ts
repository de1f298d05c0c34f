/** The chat.end payload of SPEC §8 (the seed's fields plus the transcript), from a room's chat (pure). */
import { z } from "zod";
import type { ChatMeta } from "../src/protocol/chat-state.ts";
import type { ChatMessage } from "../src/protocol/chat.ts";
import type {
	ChatEndPayload,
	ChatTranscriptPayload,
} from "../src/protocol/events.ts";

const text = (value: unknown): string | null =>
	typeof value === "string" && value.length > 0 ? value : null;
/** Prechat fields are free-form: an "email" that is not one goes no further (it would reach mail headers and CRMs). */
const email = (value: unknown): string | null =>
	z.email().max(320).safeParse(value).success ? (value as string) : null;

/** `messages` in display order (ChatLog.all()). */
export function chatEndPayload(
	meta: ChatMeta,
	messages: readonly ChatMessage[]
): ChatEndPayload {
	const prechat = meta.prechat ?? {};
	const visitorName = text(meta.visitor.name) ?? text(prechat.name);
	return {
		id: meta.chatId,
		siteId: meta.siteId,
		visitorId: meta.visitorId,
		// One visitor session per chat: the widget starts a new chat (and token) for each conversation.
		sessionId: meta.chatId,
		visitor: {
			name: text(meta.visitor.name),
			email: email(meta.visitor.email),
		},
		// A ticket named after the chat, so every deployment and every retry names the same one.
		ticket: {
			id: `tkt_${meta.chatId.replaceAll("-", "")}`,
			ifNew: true,
			title: `Chat with ${visitorName ?? "a visitor"}`,
		},
		prechat: {
			name: text(prechat.name),
			email: email(prechat.email),
			phone: text(prechat.phone),
			productService: text(prechat.productService),
			department: text(prechat.department) ?? text(meta.department),
		},
		wrapup: {
			comment: meta.wrapup?.comment ?? null,
			category: meta.wrapup?.category ?? null,
		},
		agentIds: [...(meta.pastAgentIds ?? []), ...meta.agentIds],
		// Every chat waits in the site's queue until an agent takes it.
		ifEnterQueue: true,
		requestTime: meta.beginTime,
		startTime: meta.startTime ?? null,
		endTime: meta.endTime ?? Date.now(),
		transcript: messages.map(({ mac: _mac, ...m }) => m),
	};
}

/** What a chat gained after chat.end went out (SPEC §3): the whole transcript now, merged by id in persistence. */
export function chatTranscriptPayload(
	meta: ChatMeta,
	messages: readonly ChatMessage[]
): ChatTranscriptPayload {
	return {
		id: meta.chatId,
		siteId: meta.siteId,
		visitorId: meta.visitorId,
		agentIds: [...(meta.pastAgentIds ?? []), ...meta.agentIds],
		endTime: meta.endTime ?? Date.now(),
		transcript: messages.map(({ mac: _mac, ...m }) => m),
	};
}
