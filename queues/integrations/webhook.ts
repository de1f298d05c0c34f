/**
 * Signed webhooks (SPEC §8): the envelope as JSON, POSTed to the site's URL, with the first-level
 * event name, a delivery id that stays the same across retries, and a signature over time and body.
 */
import { hex, utf8 } from "../../src/security/encoding.ts";
import { once, postJson, timeoutOf } from "./once.ts";
import type { Delivery } from "./types.ts";

export const EVENT_HEADER = "X-Livechat-Event";
export const DELIVERY_HEADER = "X-Livechat-Delivery";
export const SIGNATURE_HEADER = "X-Livechat-Signature";

/** `t=<unix seconds>,v1=<hex HMAC-SHA256(secret, t + "." + body)>` */
export async function signatureHeader(
	secret: string,
	body: string,
	unixSeconds: number
): Promise<string> {
	// Not the cached key of security/hmac.ts: sites' webhook secrets are many and change.
	const key = await crypto.subtle.importKey(
		"raw",
		utf8.encode(secret),
		{ name: "HMAC", hash: "SHA-256" },
		false,
		["sign"]
	);
	return `t=${unixSeconds},v1=${hex(await crypto.subtle.sign("HMAC", key, utf8.encode(`${unixSeconds}.${body}`)))}`;
}

export async function callWebhook(delivery: Delivery): Promise<void> {
	const { env, envelope, key, config } = delivery;
	const { event } = envelope;
	const { url, secret } = config.integrations.webhook;
	await once(env.DB, key, async (deliveryId) => {
		const body = JSON.stringify({
			event,
			uniqueId: envelope.uniqueId,
			siteId: envelope.siteId,
			publishedAt: envelope.publishedAt,
			payload: envelope.payload,
		});
		await postJson(url!, {
			headers: {
				[EVENT_HEADER]: event,
				[DELIVERY_HEADER]: deliveryId,
				[SIGNATURE_HEADER]: await signatureHeader(
					secret!,
					body,
					Math.floor(Date.now() / 1000)
				),
			},
			body,
			timeoutMs: timeoutOf(env),
		});
	});
}
