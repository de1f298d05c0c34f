/** The pure parts of the queues: backoff, the fan-out table, signatures, auth headers, the chat.end payload. */
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { chatEndPayload } from "../../durable-objects/chat-end.ts";
import { backoffSeconds } from "../../queues/backoff.ts";
import { targetsOf } from "../../queues/integrations/index.ts";
import { signatureHeader } from "../../queues/integrations/webhook.ts";
import { zendeskAuthorization } from "../../queues/integrations/zendesk.ts";
import { chatEndId, eventId } from "../../queues/publisher.ts";
import { cleanUp } from "../../queues/retention.ts";
import { spillIfLarge, split, unspill } from "../../queues/spill.ts";
import { SiteConfigSchema } from "../../src/protocol/site-config.ts";
import type { ChatMeta } from "../../src/protocol/chat-state.ts";
import type { ChatMessage } from "../../src/protocol/chat.ts";
import type { Envelope } from "../../src/protocol/events.ts";

describe("backoff", () => {
	it("doubles from the base and stops at 15 minutes", () => {
		expect([1, 2, 3, 4, 9].map((a) => backoffSeconds(a, 2))).toEqual([
			2, 4, 8, 16, 512,
		]);
		expect(backoffSeconds(20, 2)).toBe(900);
		expect(backoffSeconds(5, 0)).toBe(0);
	});
});

describe("the distributor's table", () => {
	const everythingOn = SiteConfigSchema.parse({
		name: "All on",
		integrations: {
			email: { enabled: true, to: ["a@example.com"] },
			ticket: { enabled: true },
			webhook: {
				enabled: true,
				url: "https://hooks.example.com/x",
				secret: "0123456789abcdef",
			},
			salesforce: {
				enabled: true,
				baseUrl: "https://sf.example.com",
				accessToken: "t",
			},
			zendesk: {
				enabled: true,
				baseUrl: "https://zd.example.com",
				email: "z@example.com",
				apiToken: "t",
			},
		},
	});

	it("fans each event out to SPEC §8's second level when everything is on", () => {
		const all = [
			"persistence",
			"email",
			"ticket",
			"webhook",
			"salesforce",
			"zendesk",
		];
		expect(targetsOf("chat.end", everythingOn)).toEqual(all);
		expect(targetsOf("offlineMessage.submit", everythingOn)).toEqual(all);
		expect(targetsOf("agent.wrapup", everythingOn)).toEqual([
			"persistence",
			"webhook",
		]);
		for (const event of [
			"visitor.rating",
			"cannedMessage.useLog",
			"chatQueue.log",
			"agent.ban",
		] as const)
			expect(targetsOf(event, everythingOn)).toEqual(["persistence"]);
	});

	it("publishes only what the site enabled", () => {
		const defaults = SiteConfigSchema.parse({ name: "Defaults" });
		expect(targetsOf("chat.end", defaults)).toEqual(["persistence"]);
		const noSalesforce = {
			...everythingOn,
			integrations: {
				...everythingOn.integrations,
				salesforce: { enabled: false },
				persistence: { enabled: false },
			},
		};
		expect(targetsOf("chat.end", noSalesforce)).toEqual([
			"email",
			"ticket",
			"webhook",
			"zendesk",
		]);
		expect(targetsOf("visitor.rating", noSalesforce)).toEqual([]);
	});
});

describe("ids and signatures", () => {
	it("derives chat.end's id from the chat alone", () => {
		expect(chatEndId("c1")).toBe("chat.end:c1");
		expect(eventId("visitor.rating", ["s", "c"], "id-1")).toBe(
			"visitor.rating:s:c:id-1"
		);
		expect(eventId("visitor.rating", ["s", "c"])).not.toBe(
			eventId("visitor.rating", ["s", "c"])
		);
	});

	it("signs t + '.' + body with HMAC-SHA256 (a vector computed outside)", async () => {
		expect(
			await signatureHeader(
				"whsec-0123456789abcdef",
				'{"event":"chat.end"}',
				1_700_000_000
			)
		).toBe(
			"t=1700000000,v1=51d2cb868823558f0a861929b8fe40676743a6c4f54cbbea85a4f6b78dd7edde"
		);
	});

	it("builds Zendesk's API-token basic auth", () => {
		expect(zendeskAuthorization("ops@example.com", "abc123")).toBe(
			`Basic ${btoa("ops@example.com/token:abc123")}`
		);
	});
});

describe("spilled payloads", () => {
	it("never cuts a surrogate pair", () => {
		const text = "ab😀cd😀😀e";
		for (const size of [1, 2, 3, 4, 5]) {
			const parts = split(text, size);
			expect(parts.join("")).toBe(text);
			for (const part of parts)
				expect(part, `size ${size}`).toBe(Array.from(part).join(""));
			for (const part of parts)
				expect(
					/[\ud800-\udbff]$/.test(part) || /^[\udc00-\udfff]/.test(part),
					`${JSON.stringify(part)} at size ${size}`
				).toBe(false);
		}
	});

	it("keeps two different payloads published under one uniqueId apart, emoji intact", async () => {
		const big = (mark: string) => ({
			transcript: Array.from({ length: 40 }, (_, i) => ({
				i,
				content: `${mark}${"😀é".repeat(1500)}`,
			})),
		});
		const envelope = (payload: unknown): Envelope => ({
			uniqueId: `chat.end:${crypto.randomUUID()}`,
			name: "chat.end",
			siteId: "s",
			payload,
			publishedAt: 1,
		});
		const first = envelope(big("primary"));
		const second = { ...envelope(big("failover")), uniqueId: first.uniqueId };
		const [a, b] = [
			await spillIfLarge(env.DB, first),
			await spillIfLarge(env.DB, second),
		];
		expect(a.payload).toHaveProperty("$spilled");
		expect(a.payload).not.toEqual(b.payload);
		expect(await unspill(env.DB, a)).toEqual(first);
		expect(await unspill(env.DB, b)).toEqual(second);
	});
});

describe("chat.end payload", () => {
	const meta: ChatMeta = {
		v: 4,
		siteId: "s",
		chatId: "0b7c2c9e-2f6e-4a57-9d39-6f3d2f0f7f11",
		visitorId: "v",
		visitor: { name: "Vera" },
		prechat: {
			email: "vera@example.com",
			phone: "123",
			productService: "Plan B",
		},
		department: "sales",
		status: "ended",
		agentIds: ["a1"],
		agentNames: { a1: "Alice" },
		beginTime: 1000,
		startTime: 2000,
		endTime: 3000,
		wrapup: { agentId: "a1", category: "billing" },
		limits: { maxMessageLength: 4000, messagesPerMinutePerVisitor: 60 },
	};
	const unsigned = {
		id: "m1",
		type: 1,
		dataOffset: 1,
		content: "hi",
		sendTime: 1500,
		senderId: "v",
	} as const;
	const messages: ChatMessage[] = [{ ...unsigned, mac: "x" }];

	it("carries the seed's fields and the transcript without macs", () => {
		expect(chatEndPayload(meta, messages)).toEqual({
			id: meta.chatId,
			siteId: "s",
			visitorId: "v",
			sessionId: meta.chatId,
			visitor: { name: "Vera", email: null },
			ticket: {
				id: "tkt_0b7c2c9e2f6e4a579d396f3d2f0f7f11",
				ifNew: true,
				title: "Chat with Vera",
			},
			prechat: {
				name: null,
				email: "vera@example.com",
				phone: "123",
				productService: "Plan B",
				department: "sales",
			},
			wrapup: { category: "billing", comment: null },
			agentIds: ["a1"],
			ifEnterQueue: true,
			requestTime: 1000,
			startTime: 2000,
			endTime: 3000,
			transcript: [unsigned],
		});
	});
});

describe("retention", () => {
	it("deletes spilled payloads after a week and done-records after a month, nothing younger, nothing pending", async () => {
		const now = Date.now();
		const day = 24 * 60 * 60 * 1000;
		const tag = crypto.randomUUID();
		await env.DB.batch([
			env.DB.prepare(
				`INSERT INTO spilled_payloads (spill_id, part, body, created_at) VALUES (?, 0, 'old', ?), (?, 0, 'new', ?)`
			).bind(`${tag}-old`, now - 8 * day, `${tag}-new`, now - 6 * day),
			env.DB.prepare(
				`INSERT INTO deliveries (key, delivery_id, state, attempts, claimed_until, done_at) VALUES (?, 'd', 'done', 1, 0, ?), (?, 'd', 'done', 1, 0, ?), (?, 'd', 'claimed', 1, 0, NULL)`
			).bind(
				`${tag}:old`,
				now - 31 * day,
				`${tag}:new`,
				now - 29 * day,
				`${tag}:pending`
			),
		]);
		await cleanUp(env, now);
		const left = async (sql: string) =>
			(await env.DB.prepare(sql).bind(`${tag}%`).all<{ k: string }>()).results
				.map((r) => r.k)
				.sort();
		expect(
			await left(
				`SELECT spill_id AS k FROM spilled_payloads WHERE spill_id LIKE ?`
			)
		).toEqual([`${tag}-new`]);
		expect(
			await left(`SELECT key AS k FROM deliveries WHERE key LIKE ?`)
		).toEqual([`${tag}:new`, `${tag}:pending`]);
	});
});
