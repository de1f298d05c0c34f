/** The words every human-facing integration (email, ticket, Salesforce, Zendesk) shows for an event. */
import { MessageType } from "../../src/protocol/offsets.ts";
import { unsupported } from "./types.ts";
import type {
	CheckedEnvelope,
	TranscriptMessage,
} from "../../src/protocol/events.ts";

export interface Summary {
	subject: string;
	body: string;
	requester: {
		name: string | null;
		email: string | null;
		phone: string | null;
	};
	chatId: string | null;
}

const who = (m: TranscriptMessage, visitorName: string) =>
	m.type === MessageType.Visitor
		? visitorName
		: m.type === MessageType.System
			? "System"
			: (m.senderName ?? "Agent");

export function summarize(
	integration: string,
	envelope: CheckedEnvelope
): Summary {
	if (envelope.event === "chat.end") {
		const chat = envelope.payload;
		const name = chat.visitor.name ?? chat.prechat.name;
		const visitorName = name ?? "Visitor";
		const lines = chat.transcript.map(
			(m) =>
				`[${new Date(m.sendTime).toISOString()}] ${who(m, visitorName)}: ${m.content}`
		);
		const wrapupText = [chat.wrapup?.category, chat.wrapup?.comment]
			.filter(Boolean)
			.join(" — ");
		const wrapup = wrapupText ? [`Wrap-up: ${wrapupText}`] : [];
		return {
			subject: chat.ticket.title,
			body: [`Chat ${chat.id} on ${chat.siteId}`, ...wrapup, "", ...lines].join(
				"\n"
			),
			requester: {
				name,
				email: chat.visitor.email ?? chat.prechat.email,
				phone: chat.prechat.phone,
			},
			chatId: chat.id,
		};
	}
	if (envelope.event === "offlineMessage.submit") {
		const m = envelope.payload;
		return {
			subject: `Offline message from ${m.name ?? m.email}`,
			body: [
				m.message,
				"",
				`From: ${m.name ?? ""} <${m.email}>`,
				m.phone ? `Phone: ${m.phone}` : "",
				m.department ? `Department: ${m.department}` : "",
			]
				.filter((line, i) => i < 2 || line)
				.join("\n"),
			requester: { name: m.name, email: m.email, phone: m.phone },
			chatId: null,
		};
	}
	throw unsupported(integration, envelope.event);
}

/** A body cut to what a receiver takes, saying so: the whole transcript stays in the chat's history (D1). */
export function cut(text: string, maxChars: number): string {
	if (text.length <= maxChars) return text;
	const note =
		"\n… (cut here: the whole conversation is in the chat's history)";
	return text.slice(0, maxChars - note.length) + note;
}
