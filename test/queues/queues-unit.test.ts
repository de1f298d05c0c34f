/** The pure parts of the queues: backoff, the fan-out table, signatures, auth headers, the chat.end payload. */
import { describe, expect, it } from "vitest";
import { chatEndPayload } from "../../durable-objects/chat-end.ts";
import { backoffSeconds } from "../../queues/consumer.ts";
import { targetsOf } from "../../queues/integrations/index.ts";
import { signatureHeader } from "../../queues/integrations/webhook.ts";
import { zendeskAuthorization } from "../../queues/integrations/zendesk.ts";
import { chatEndId, contentId } from "../../queues/publisher.ts";
import type { ChatMessage } from "../../src/protocol/chat.ts";
import type { ChatMeta } from "../../src/protocol/chat-state.ts";
import { SiteConfigSchema } from "../../src/protocol/site-config.ts";

describe("backoff", () => {
	it("doubles from the base and stops at 15 minutes", () => {
		expect([1, 2, 3, 4, 9].map((a) => backoffSeconds(a, 2))).toEqual([2, 4, 8, 16, 512]);
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
			webhook: { enabled: true, url: "https://hooks.example.com/x", secret: "0123456789abcdef" },
			salesforce: { enabled: true, baseUrl: "https://sf.example.com", accessToken: "t" },
			zendesk: { enabled: true, baseUrl: "https://zd.example.com", email: "z@example.com", apiToken: "t" },
		},
	});

	it("fans each event out to SPEC §8's second level when everything is on", () => {
		const all = ["persistence", "email", "ticket", "webhook", "salesforce", "zendesk"];
		expect(targetsOf("chat.end", everythingOn)).toEqual(all);
		expect(targetsOf("offlineMessage.submit", everythingOn)).toEqual(all);
		expect(targetsOf("agent.wrapup", everythingOn)).toEqual(["persistence", "webhook"]);
		for (const event of ["visitor.rating", "cannedMessage.useLog", "chatQueue.log", "agent.ban"] as const) expect(targetsOf(event, everythingOn)).toEqual(["persistence"]);
	});

	it("publishes only what the site enabled", () => {
		const defaults = SiteConfigSchema.parse({ name: "Defaults" });
		expect(targetsOf("chat.end", defaults)).toEqual(["persistence"]);
		const noSalesforce = { ...everythingOn, integrations: { ...everythingOn.integrations, salesforce: { enabled: false }, persistence: { enabled: false } } };
		expect(targetsOf("chat.end", noSalesforce)).toEqual(["email", "ticket", "webhook", "zendesk"]);
		expect(targetsOf("visitor.rating", noSalesforce)).toEqual([]);
	});
});

describe("ids and signatures", () => {
	it("derives chat.end's id from the chat alone, and content ids from the content", async () => {
		expect(chatEndId("c1")).toBe("chat.end:c1");
		expect(await contentId("visitor.rating", "c1", 5, null)).toBe(await contentId("visitor.rating", "c1", 5, null));
		expect(await contentId("visitor.rating", "c1", 5, null)).not.toBe(await contentId("visitor.rating", "c1", 4, null));
	});

	it("signs t + '.' + body with HMAC-SHA256 (a vector computed outside)", async () => {
		expect(await signatureHeader("whsec-0123456789abcdef", '{"event":"chat.end"}', 1_700_000_000)).toBe(
			"t=1700000000,v1=51d2cb868823558f0a861929b8fe40676743a6c4f54cbbea85a4f6b78dd7edde",
		);
	});

	it("builds Zendesk's API-token basic auth", () => {
		expect(zendeskAuthorization("ops@example.com", "abc123")).toBe(`Basic ${btoa("ops@example.com/token:abc123")}`);
	});
});

describe("chat.end payload", () => {
	const meta: ChatMeta = {
		v: 4,
		siteId: "s",
		chatId: "0b7c2c9e-2f6e-4a57-9d39-6f3d2f0f7f11",
		visitorId: "v",
		visitor: { name: "Vera" },
		prechat: { email: "vera@example.com", phone: "123", productService: "Plan B" },
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
	const messages: ChatMessage[] = [{ id: "m1", type: 1, dataOffset: 1, content: "hi", sendTime: 1500, senderId: "v", mac: "x" }];

	it("carries the seed's fields and the transcript without macs", () => {
		expect(chatEndPayload(meta, messages)).toEqual({
			id: meta.chatId,
			siteId: "s",
			visitorId: "v",
			sessionId: meta.chatId,
			visitor: { name: "Vera", email: null },
			ticket: { id: "tkt_0b7c2c9e2f6e4a579d396f3d2f0f7f11", ifNew: true, title: "Chat with Vera" },
			prechat: { name: null, email: "vera@example.com", phone: "123", productService: "Plan B", department: "sales" },
			wrapup: { category: "billing", comment: null },
			agentIds: ["a1"],
			ifEnterQueue: true,
			requestTime: 1000,
			startTime: 2000,
			endTime: 3000,
			transcript: [{ id: "m1", type: 1, dataOffset: 1, content: "hi", sendTime: 1500, senderId: "v" }],
		});
	});
});
