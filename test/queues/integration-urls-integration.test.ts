/** Integration URLs (SPEC §6) are https: (http: to loopback only); no redirects followed; answers read with a cap. */
import { env } from "cloudflare:test";
import { expect, inject, it } from "vitest";
import { SiteConfigSchema } from "../../src/protocol/site-config.ts";
import { putSiteConfig } from "../../src/site-config-cache.ts";
import { api, createSite, json } from "../helpers.ts";
import {
	deadLetters,
	deliverOnce,
	deliveryState,
	offlineMessage,
	receiver,
	waitFor,
} from "../queue-helpers.ts";
import type {
	Envelope,
	OfflineMessagePayload,
} from "../../src/protocol/events.ts";
import type { SiteConfigInput } from "../../src/protocol/site-config.ts";

const SECRET = "webhook-secret-0123456789";

const BAD_URLS = [
	"http://hooks.example.com/x",
	"file:///etc/passwd",
	"javascript:alert(1)",
	"ftp://files.example.com/",
	"http://169.254.169.254/latest/meta-data/",
	"https://169.254.169.254/latest/meta-data/",
	"https://169.254.10.20/",
	// The same metadata address, spelled as a number and as IPv4-mapped IPv6.
	"https://2852039166/",
	"https://[::ffff:169.254.169.254]/",
	"https://0.0.0.0/",
	"http://0.0.0.0:8080/",
	"https://[::]/",
	"https://[fe80::1]/",
	"https://10.0.0.5/",
	"https://192.168.1.1/",
	"https://[fd00:ec2::254]/",
	"https://metadata.google.internal/computeMetadata/v1/",
	"https://metadata/",
];

const withUrl = (url: string): Partial<SiteConfigInput>[] => [
	{ integrations: { webhook: { enabled: true, url, secret: SECRET } } },
	// Off, but saved all the same: switching it on later must not be what lets it through.
	{
		integrations: {
			salesforce: { enabled: false, baseUrl: url, accessToken: "sf" },
		},
	},
	{
		integrations: {
			zendesk: {
				enabled: true,
				baseUrl: url,
				email: "ops@example.com",
				apiToken: "zd",
			},
		},
	},
];

const putSite = (siteId: string, config: Partial<SiteConfigInput>) =>
	api(`/admin/sites/${siteId}`, {
		method: "PUT",
		token: env.ADMIN_TOKEN,
		body: json({ name: "Test site", ...config }),
	});
const getSite = (siteId: string) =>
	api(`/admin/sites/${siteId}`, { token: env.ADMIN_TOKEN });

it("refuses to save a site whose webhook, Salesforce or Zendesk URL is not https: or points inside: 400, nothing stored", async () => {
	const existing = await createSite({
		integrations: {
			webhook: {
				enabled: true,
				url: "https://hooks.example.com/x",
				secret: SECRET,
			},
		},
	});
	const before = await (await getSite(existing)).json();
	for (const url of BAD_URLS) {
		for (const config of withUrl(url)) {
			const fresh = `site-${crypto.randomUUID().slice(0, 8)}`;
			const res = await putSite(fresh, config);
			expect(
				res.status,
				`${url} in ${Object.keys(config.integrations!)[0]}`
			).toBe(400);
			expect(await res.json()).toMatchObject({
				code: -1,
				error: { type: "invalid_request" },
			});
			expect((await getSite(fresh)).status).toBe(404);
			// A site that exists keeps what it had.
			expect((await putSite(existing, config)).status).toBe(400);
		}
	}
	expect(await (await getSite(existing)).json()).toEqual(before);
});

it("accepts https: URLs and plain http: to loopback", async () => {
	for (const url of [
		"https://hooks.example.com/x?token=abc",
		"https://[2001:db8::1]:8443/",
		"http://127.0.0.1:9/hook",
		"http://127.9.9.9/",
		"http://localhost:8787/",
		"http://[::1]:8080/",
	]) {
		for (const config of withUrl(url))
			expect(
				(await putSite(`site-${crypto.randomUUID().slice(0, 8)}`, config))
					.status,
				url
			).toBe(200);
	}
});

function offlineEnvelope(
	siteId: string,
	integration: string
): Envelope<OfflineMessagePayload> {
	const payload = offlineMessage(siteId);
	return {
		uniqueId: `offlineMessage.submit:${siteId}:${payload.id}`,
		name: `offlineMessage.submit.${integration}`,
		siteId,
		payload,
		publishedAt: Date.now(),
	};
}

it(
	"dead-letters a call to a URL saved before the rule, without calling it",
	{ timeout: 30_000 },
	async () => {
		// 0.0.0.0 reaches this machine's receiver on Linux: without the check at delivery, the POST would land there.
		const hook = receiver();
		const url = hook.base.replace("127.0.0.1", "0.0.0.0");
		const siteId = `site-${crypto.randomUUID().slice(0, 8)}`;
		// What an older release stored (the admin API now refuses it), as the consumer reads it.
		const stale = SiteConfigSchema.parse({
			name: "Old site",
			integrations: {
				webhook: {
					enabled: true,
					url: "https://hooks.example.com/x",
					secret: SECRET,
				},
			},
		});
		await putSiteConfig(env.SITE_CONFIG, siteId, {
			...stale,
			integrations: {
				...stale.integrations,
				webhook: {
					...stale.integrations.webhook,
					url: `${url}/hook/s3cret-path`,
				},
			},
		});

		const envelope = offlineEnvelope(siteId, "webhook");
		const { result } = await deliverOnce("deliver-webhook", envelope);
		expect(result).toMatchObject({ explicitAcks: ["m1"], retryMessages: [] });
		const [letter] = await waitFor("the dead letter", async () => {
			const letters = await deadLetters(envelope.uniqueId);
			return letters.length > 0 && letters;
		});
		expect(letter).toMatchObject({
			queue: "deliver-webhook",
			name: "offlineMessage.submit.webhook",
		});
		expect(letter!.reason).toContain("the integration URL (http://0.0.0.0:");
		expect(letter!.reason).not.toContain("s3cret-path");
		expect(await hook.requests()).toEqual([]);
	}
);

it(
	"does not follow a redirect to another origin: the credentials stay home, the delivery is retried, the error names the origin only",
	{ timeout: 30_000 },
	async () => {
		for (const [integration, status] of [
			["webhook", 307],
			["salesforce", 308],
			["zendesk", 302],
		] as const) {
			const target = receiver(`redirect-${status}`);
			const siteId = await createSite({
				integrations: {
					persistence: { enabled: false },
					webhook: {
						enabled: true,
						url: `${target.base}/hook/s3cret-path`,
						secret: SECRET,
					},
					salesforce: {
						enabled: true,
						baseUrl: `${target.base}/s3cret-path`,
						accessToken: "sf-token",
					},
					zendesk: {
						enabled: true,
						baseUrl: `${target.base}/s3cret-path`,
						email: "ops@example.com",
						apiToken: "zd-token",
					},
				},
			});
			const envelope = offlineEnvelope(siteId, integration);
			const { result } = await deliverOnce(`deliver-${integration}`, envelope);
			expect(result, integration).toMatchObject({
				explicitAcks: [],
				retryMessages: [{ msgId: "m1" }],
			});
			const requests = await target.requests();
			// One POST, to the receiver the site named; nothing reached the redirect's target.
			expect(
				requests.map((r) => r.path.includes("/redirected/")),
				integration
			).toEqual([false]);
			const state = await deliveryState(
				`${envelope.name}:${envelope.uniqueId}`
			);
			expect(state).toMatchObject({ state: "claimed", attempts: 1 });
			const origin = inject("receiverUrl");
			expect(state!.lastError).toMatch(
				new RegExp(
					`^POST ${origin} answered ${status}, a redirect to http://127\\.0\\.0\\.1:\\d+; redirects are not followed$`
				)
			);
			expect(state!.lastError).not.toContain(
				`${origin} answered ${status}, a redirect to ${origin}`
			);
			expect(state!.lastError).not.toContain("s3cret-path");
		}
	}
);

it(
	"reads at most a small part of an error answer, however long it goes on",
	{ timeout: 30_000 },
	async () => {
		const hook = receiver("endless-500");
		const siteId = await createSite({
			integrations: {
				persistence: { enabled: false },
				webhook: { enabled: true, url: `${hook.base}/hook`, secret: SECRET },
			},
		});
		const envelope = offlineEnvelope(siteId, "webhook");
		const { result } = await deliverOnce("deliver-webhook", envelope);
		expect(result).toMatchObject({
			explicitAcks: [],
			retryMessages: [{ msgId: "m1" }],
		});
		// Not the 10 s timeout (the answer goes on for 30 s): a read cut short by it would keep none of the
		// body, and the error would show no answer.
		const state = await deliveryState(`${envelope.name}:${envelope.uniqueId}`);
		expect(state!.lastError).toMatch(
			/^POST http:\/\/127\.0\.0\.1:\d+ answered 500: x{100}/
		);
	}
);
