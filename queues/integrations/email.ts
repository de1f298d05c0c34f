/** Email through Cloudflare's `send_email` binding (SPEC §8): one plain-text message per recipient. */
import { EmailMessage } from "cloudflare:email";
import { base64Utf8 as base64 } from "../../src/security/encoding.ts";
import { once, timeoutOf, withTimeout } from "./once.ts";
import { summarize } from "./summary.ts";
import { PermanentFailure } from "./types.ts";
import type { Delivery } from "./types.ts";

export async function sendEmails(delivery: Delivery): Promise<void> {
	const { env, envelope, key, config } = delivery;
	const { to, from } = config.integrations.email;
	const sender = from ?? env.EMAIL_FROM;
	const summary = summarize("email", envelope);
	// Each recipient is its own effect: a retry after one address failed does not mail the others again,
	// and one failing address does not keep the others from their mail.
	const failures: unknown[] = [];
	for (const recipient of to) {
		try {
			await once(env.DB, `${key}:${recipient}`, async (deliveryId) => {
				const raw = mime({
					from: sender,
					to: recipient,
					subject: summary.subject,
					body: summary.body,
					messageId: `<${deliveryId}@edge-live-chat>`,
					replyTo: summary.requester.email,
				});
				await withTimeout(
					env.EMAIL.send(new EmailMessage(sender, recipient, raw)),
					timeoutOf(env),
					`sending to ${recipient}`
				);
			});
		} catch (error) {
			failures.push(error);
		}
	}
	if (failures.length === 0) return;
	const reasons = failures
		.map((f) => (f instanceof Error ? f.message : String(f)))
		.join("; ");
	// Dead-letter at once only when no retry can help any of them; otherwise the retry tries the failed ones again.
	throw failures.every((f) => f instanceof PermanentFailure)
		? new PermanentFailure(reasons)
		: new Error(reasons);
}

interface Mail {
	from: string;
	to: string;
	subject: string;
	body: string;
	messageId: string;
	replyTo: string | null;
}

/** A plain address: no display name, no spaces, no line breaks (which would start a new header). */
const PLAIN_ADDRESS = /^[^\s@<>(),;:"]+@[^\s@<>(),;:"]+\.[^\s@<>(),;:"]+$/;

/**
 * A minimal RFC 5322 message: UTF-8 text, base64 so any content is safe on the wire. The subject is
 * encoded; addresses must be plain; a visitor's address that is not is left out, never written raw.
 */
export function mime(mail: Mail): string {
	for (const address of [mail.from, mail.to]) {
		if (!PLAIN_ADDRESS.test(address))
			throw new PermanentFailure(
				`not a plain email address: ${JSON.stringify(address.slice(0, 100))}`
			);
	}
	const headers = [
		`From: ${mail.from}`,
		`To: ${mail.to}`,
		`Subject: =?UTF-8?B?${base64(mail.subject)}?=`,
		`Message-ID: ${mail.messageId}`,
		`Date: ${new Date().toUTCString()}`,
		"MIME-Version: 1.0",
		'Content-Type: text/plain; charset="UTF-8"',
		"Content-Transfer-Encoding: base64",
	];
	if (mail.replyTo && PLAIN_ADDRESS.test(mail.replyTo))
		headers.push(`Reply-To: ${mail.replyTo}`);
	const body = base64(mail.body).replace(/.{1,76}/g, "$&\r\n");
	return `${headers.join("\r\n")}\r\n\r\n${body}`;
}
