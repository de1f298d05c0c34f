/** Webhook retries keep their delivery id and signature; a dead receiver ends in the dead-letter queue. */
import { env } from "cloudflare:test";
import { expect, it } from "vitest";
import { publisher } from "../../queues/publisher.ts";
import { createSite } from "../helpers.ts";
import {
	deadLetters,
	deliveryState,
	offlineMessage,
	receiver,
	waitFor,
} from "../queue-helpers.ts";

const SECRET = "webhook-secret-0123456789";

async function verifySignature(header: string, body: string): Promise<boolean> {
	const match = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(header);
	if (!match) return false;
	const key = await crypto.subtle.importKey(
		"raw",
		new TextEncoder().encode(SECRET),
		{ name: "HMAC", hash: "SHA-256" },
		false,
		["verify"]
	);
	const mac = Uint8Array.from(
		match[2]!.match(/../g)!.map((h) => parseInt(h, 16))
	);
	const fresh = Math.abs(Date.now() / 1000 - Number(match[1])) < 300;
	return (
		fresh &&
		crypto.subtle.verify(
			"HMAC",
			key,
			mac,
			new TextEncoder().encode(`${match[1]}.${body}`)
		)
	);
}

async function offlineMessageTo(hookUrl: string) {
	const siteId = await createSite({
		integrations: {
			persistence: { enabled: false },
			webhook: { enabled: true, url: hookUrl, secret: SECRET },
		},
	});
	const payload = offlineMessage(siteId);
	const uniqueId = `offlineMessage.submit:${siteId}:${payload.id}`;
	await publisher(env, siteId).publish(
		"offlineMessage.submit",
		uniqueId,
		payload
	);
	return { siteId, uniqueId, key: `offlineMessage.submit.webhook:${uniqueId}` };
}

it(
	"retries a receiver that fails twice: three attempts, one delivery id, every signature verifies",
	{ timeout: 30_000 },
	async () => {
		const hook = receiver("fail-2");
		const { siteId, uniqueId, key } = await offlineMessageTo(
			`${hook.base}/hook`
		);
		await waitFor(
			"the third attempt to succeed",
			async () => (await deliveryState(key))?.state === "done"
		);

		const requests = await hook.requests();
		expect(requests).toHaveLength(3);
		const deliveryIds = new Set(
			requests.map((r) => r.headers["x-livechat-delivery"])
		);
		expect(deliveryIds).toEqual(
			new Set([(await deliveryState(key))!.deliveryId])
		);
		for (const request of requests) {
			expect(request.method).toBe("POST");
			expect(request.headers["content-type"]).toBe("application/json");
			expect(request.headers["x-livechat-event"]).toBe("offlineMessage.submit");
			expect(
				await verifySignature(
					request.headers["x-livechat-signature"]!,
					request.body
				)
			).toBe(true);
			expect(JSON.parse(request.body)).toMatchObject({
				event: "offlineMessage.submit",
				uniqueId,
				siteId,
				payload: { message: "Call me back" },
			});
		}
		// A body changed in transit does not verify.
		expect(
			await verifySignature(
				requests[0]!.headers["x-livechat-signature"]!,
				requests[0]!.body.replace("Call", "Mail")
			)
		).toBe(false);
		expect(await deliveryState(key)).toMatchObject({
			attempts: 3,
			lastError: null,
		});
		expect(await deadLetters(uniqueId)).toEqual([]);
	}
);

it(
	"dead-letters a receiver that always fails, after every retry, with the reason",
	{ timeout: 60_000 },
	async () => {
		const hook = receiver("always-fail");
		const { uniqueId, key } = await offlineMessageTo(`${hook.base}/hook`);
		const [letter] = await waitFor(
			"the dead letter",
			async () => {
				const letters = await deadLetters(uniqueId);
				return letters.length > 0 && letters;
			},
			45_000
		);
		expect(letter).toMatchObject({
			name: "offlineMessage.submit.webhook",
			queue: "(retries exhausted)",
		});
		expect(letter!.reason).toContain("answered 503");
		// max_retries = 16 in wrangler.toml: the first attempt and sixteen retries, nothing after.
		expect(await hook.requests()).toHaveLength(17);
		expect(await deliveryState(key)).toMatchObject({
			state: "claimed",
			attempts: 17,
		});
	}
);
