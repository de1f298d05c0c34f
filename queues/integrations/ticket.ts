/** Tickets are rows in D1 (SPEC §8), opened from ended chats and offline messages. */
import { deliveryIdOf, markDoneStatement, skipRepeat } from "../deliveries.ts";
import { cut, summarize } from "./summary.ts";
import type { Delivery } from "./types.ts";

/** Well inside D1's 2 MB row at 3 bytes a character. */
const MAX_BODY_CHARS = 500_000;

export async function openTicket({
	env,
	envelope,
	key,
}: Delivery): Promise<void> {
	if (await skipRepeat(env.DB, key)) return;
	const summary = summarize("ticket", envelope);
	// A chat names its ticket in its chat.end payload; an offline message's ticket is named after its event.
	const id =
		envelope.event === "chat.end"
			? envelope.payload.ticket.id
			: `tkt_${(await deliveryIdOf(envelope.uniqueId)).replaceAll("-", "")}`;
	await env.DB.batch([
		env.DB.prepare(
			`INSERT OR IGNORE INTO tickets (id, site_id, source_event, source_id, chat_id, subject, body, requester_name, requester_email, status, created_at)
			 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'open', ?)`
		).bind(
			id,
			envelope.siteId,
			envelope.event,
			envelope.uniqueId,
			summary.chatId,
			summary.subject,
			cut(summary.body, MAX_BODY_CHARS),
			summary.requester.name,
			summary.requester.email,
			envelope.publishedAt
		),
		markDoneStatement(env.DB, key, await deliveryIdOf(key)),
	]);
}
