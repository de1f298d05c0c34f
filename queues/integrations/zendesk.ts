/** Zendesk: a ticket per ended chat or offline message, with API-token basic auth (SPEC §8). */
import { base64Utf8 } from "../../src/security/encoding.ts";
import { once, postJson, REJECTED_REQUEST, timeoutOf } from "./once.ts";
import { cut, summarize } from "./summary.ts";
import type { Delivery } from "./types.ts";

/** Zendesk refuses comments much over 64 KB. */
const MAX_COMMENT_CHARS = 60_000;

/** `{email}/token:{apiToken}`, base64 of its UTF-8 bytes. */
export function zendeskAuthorization(email: string, apiToken: string): string {
	return `Basic ${base64Utf8(`${email}/token:${apiToken}`)}`;
}

export async function createTicket(delivery: Delivery): Promise<void> {
	const { env, envelope, key, config } = delivery;
	const { baseUrl, email, apiToken } = config.integrations.zendesk;
	const summary = summarize("zendesk", envelope);
	await once(env.DB, key, async () => {
		// Zendesk needs an email to find or create the requester; without one the API user is the requester.
		const { name, email: requesterEmail } = summary.requester;
		const requester = requesterEmail
			? { name: name ?? requesterEmail, email: requesterEmail }
			: undefined;
		await postJson(`${baseUrl!.replace(/\/+$/, "")}/api/v2/tickets.json`, {
			headers: { Authorization: zendeskAuthorization(email!, apiToken!) },
			body: JSON.stringify({
				ticket: {
					subject: summary.subject,
					comment: { body: cut(summary.body, MAX_COMMENT_CHARS) },
					requester,
					// Lets Zendesk (and people) find the ticket of an event, and spot a repeat.
					external_id: envelope.uniqueId,
				},
			}),
			timeoutMs: timeoutOf(env),
			permanent: REJECTED_REQUEST,
		});
	});
}
