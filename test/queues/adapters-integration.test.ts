/** Salesforce and Zendesk against real local receivers; email through the send_email binding. */
import {
	createExecutionContext,
	createMessageBatch,
	env,
	getQueueResult,
} from "cloudflare:test";
import { expect, it } from "vitest";
import { consumeBatch } from "../../queues/consumer.ts";
import { mime } from "../../queues/integrations/email.ts";
import { createSite } from "../helpers.ts";
import {
	deadLetters,
	deliveryState,
	endChat,
	postJson,
	receiver,
	rowOf,
	waitFor,
} from "../queue-helpers.ts";
import type {
	Envelope,
	OfflineMessagePayload,
} from "../../src/protocol/events.ts";

it(
	"creates a Salesforce Case and a Zendesk ticket for an offline message, with their real request shapes",
	{ timeout: 30_000 },
	async () => {
		const salesforce = receiver();
		const zendesk = receiver();
		const siteId = await createSite({
			integrations: {
				salesforce: {
					enabled: true,
					baseUrl: `${salesforce.base}/`,
					accessToken: "00Dxx0000001gPL!AR8AQJXg",
				},
				zendesk: {
					enabled: true,
					baseUrl: zendesk.base,
					email: "ops@example.com",
					apiToken: "zd-api-token",
				},
			},
		});
		const res = await postJson(`/sites/${siteId}/offline-messages`, {
			name: "Olga Ünal",
			email: "olga@example.com",
			phone: "+44 20 7946 0000",
			message: "Please call me back about my order",
		});
		expect(res.status).toBe(202);
		const { id } = await res.json<{ id: string }>();
		const uniqueId = `offlineMessage.submit:${siteId}:${id}`;
		await waitFor(
			"Salesforce",
			async () =>
				(await deliveryState(`offlineMessage.submit.salesforce:${uniqueId}`))
					?.state === "done"
		);
		await waitFor(
			"Zendesk",
			async () =>
				(await deliveryState(`offlineMessage.submit.zendesk:${uniqueId}`))
					?.state === "done"
		);

		const [sf] = await salesforce.requests();
		expect(sf).toMatchObject({ method: "POST" });
		expect(sf!.path.endsWith("/ok/services/data/v60.0/sobjects/Case")).toBe(
			true
		);
		expect(sf!.headers.authorization).toBe("Bearer 00Dxx0000001gPL!AR8AQJXg");
		expect(sf!.headers["content-type"]).toBe("application/json");
		expect(JSON.parse(sf!.body)).toEqual({
			Subject: "Offline message from Olga Ünal",
			Description: expect.stringContaining(
				"Please call me back about my order"
			),
			Origin: "Web",
			Status: "New",
			SuppliedName: "Olga Ünal",
			SuppliedEmail: "olga@example.com",
			SuppliedPhone: "+44 20 7946 0000",
		});

		const [zd] = await zendesk.requests();
		expect(zd).toMatchObject({ method: "POST" });
		expect(zd!.path.endsWith("/ok/api/v2/tickets.json")).toBe(true);
		expect(zd!.headers.authorization).toBe(
			`Basic ${btoa("ops@example.com/token:zd-api-token")}`
		);
		expect(JSON.parse(zd!.body)).toEqual({
			ticket: {
				subject: "Offline message from Olga Ünal",
				comment: {
					body: expect.stringContaining("Please call me back about my order"),
				},
				requester: { name: "Olga Ünal", email: "olga@example.com" },
				external_id: uniqueId,
			},
		});
		// Persistence is on by default: the offline message is in D1 too.
		expect(
			await rowOf(
				`SELECT email, message FROM offline_messages WHERE id = ?`,
				id
			)
		).toEqual({
			email: "olga@example.com",
			message: "Please call me back about my order",
		});
	}
);

const RAW = "EmailMessage::raw";

it("sends one email per recipient through the send_email binding, once however often the message comes", async () => {
	const siteId = await createSite({
		integrations: {
			email: {
				enabled: true,
				to: ["support@example.com", "sales@example.com"],
				from: "chat@example.com",
			},
		},
	});
	const payload: OfflineMessagePayload = {
		id: crypto.randomUUID(),
		siteId,
		name: "Zoë",
		email: "zoe@example.com",
		phone: null,
		department: "sales",
		message: "Ça marche ? 🚀",
		submittedAt: Date.now(),
	};
	const envelope: Envelope = {
		uniqueId: `offlineMessage.submit:${payload.id}`,
		name: "offlineMessage.submit.email",
		siteId,
		payload,
		publishedAt: Date.now(),
	};
	const sent: { from: string; to: string; raw: string }[] = [];
	// The real binding (Miniflare checks the MIME: Message-ID present, From matching), with a record of what went through it.
	const EMAIL = {
		async send(message: EmailMessage & Record<string, unknown>) {
			const result = await env.EMAIL.send(message);
			sent.push({
				from: message.from,
				to: message.to,
				raw: String(message[RAW]),
			});
			return result;
		},
	} as unknown as SendEmail;
	const deliver = async (attempts: number, ...ids: string[]) => {
		const batch = createMessageBatch(
			"deliver-email",
			ids.map((id) => ({ id, timestamp: new Date(), attempts, body: envelope }))
		);
		const ctx = createExecutionContext();
		await consumeBatch(batch, { ...env, EMAIL });
		return getQueueResult(batch, ctx);
	};

	// Two copies at once: each address is mailed by one of them; a copy that found an address in
	// the other's hands is told to come back later.
	const first = await deliver(1, "copy-1", "copy-2");
	expect(first.explicitAcks.length + first.retryMessages.length).toBe(2);
	expect(first.retryMessages.length).toBeGreaterThanOrEqual(1);
	expect(sent).toHaveLength(2);
	// Later copies find it done and are acked without sending.
	const again = await deliver(2, "copy-2", "copy-3");
	expect(again.explicitAcks.sort()).toEqual(["copy-2", "copy-3"]);

	// In whichever order the two copies got to them.
	expect(sent.map((m) => [m.from, m.to]).sort()).toEqual([
		["chat@example.com", "sales@example.com"],
		["chat@example.com", "support@example.com"],
	]);
	const raw = sent.find((m) => m.to === "support@example.com")!.raw;
	expect(raw).toMatch(/^From: chat@example.com\r\nTo: support@example.com\r\n/);
	expect(raw).toContain(
		`Subject: =?UTF-8?B?${btoa("Offline message from Zo\u00c3\u00ab")}?=`
	);
	expect(raw).toContain("Reply-To: zoe@example.com");
	const messageId = /Message-ID: <([0-9a-f-]{36})@edge-live-chat>/.exec(
		raw
	)?.[1];
	expect(messageId).toBe(
		(await deliveryState(
			`${envelope.name}:${envelope.uniqueId}:support@example.com`
		))!.deliveryId
	);
	const body = raw.split("\r\n\r\n")[1]!.replaceAll("\r\n", "");
	expect(
		new TextDecoder().decode(
			Uint8Array.from(atob(body), (c) => c.charCodeAt(0))
		)
	).toContain("Ça marche ? 🚀");
});

it(
	"dead-letters at once what Salesforce rejects as malformed (422), and leaves out a Zendesk requester without an email",
	{ timeout: 30_000 },
	async () => {
		const salesforce = receiver("status-422");
		const zendesk = receiver();
		const siteId = await createSite({
			integrations: {
				persistence: { enabled: false },
				salesforce: {
					enabled: true,
					baseUrl: salesforce.base,
					accessToken: "sf",
				},
				zendesk: {
					enabled: true,
					baseUrl: zendesk.base,
					email: "ops@example.com",
					apiToken: "zd",
				},
			},
		});
		// A prechat "email" with a line break in it must reach no header and no CRM.
		const start = await postJson(`/sites/${siteId}/chats`, {
			visitor: { name: "Nina" },
			prechat: { email: "x@example.com\r\nBcc: all@example.com" },
		});
		const chat = await start.json<{ chatId: string; token: string }>();
		expect((await endChat(siteId, chat.chatId, chat.token)).status).toBe(200);
		const uniqueId = `chat.end:${chat.chatId}`;
		await waitFor(
			"Zendesk",
			async () =>
				(await deliveryState(`chat.end.zendesk:${uniqueId}`))?.state === "done"
		);
		const [letter] = await waitFor("the Salesforce dead letter", async () => {
			const letters = await deadLetters(uniqueId);
			return letters.length > 0 && letters;
		});
		expect(letter).toMatchObject({
			queue: "deliver-salesforce",
			name: "chat.end.salesforce",
		});
		expect(letter!.reason).toContain("answered 422");
		expect(await salesforce.requests()).toHaveLength(1);
		const ticket = JSON.parse((await zendesk.requests())[0]!.body).ticket;
		expect(ticket).not.toHaveProperty("requester");
		expect(ticket.subject).toBe("Chat with Nina");
	}
);

it("never writes a visitor's address with a line break into a mail header", () => {
	const raw = mime({
		from: "chat@example.com",
		to: "support@example.com",
		subject: "Hi\r\nBcc: x@example.com",
		body: "b",
		messageId: "<1@x>",
		replyTo: "v@example.com\r\nBcc: x@example.com",
	});
	expect(raw.split("\r\n\r\n")[0]).not.toContain("Bcc");
	expect(raw).not.toContain("Reply-To");
	expect(() =>
		mime({
			from: "chat@example.com",
			to: "a@example.com\nBcc: b@example.com",
			subject: "s",
			body: "b",
			messageId: "<1@x>",
			replyTo: null,
		})
	).toThrow(/plain email address/);
});
