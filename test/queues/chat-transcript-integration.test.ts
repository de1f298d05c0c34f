/** A stored chat only grows (SPEC §3, §8). chat.transcript and a second chat.end merge by message id, to persistence only. */
import {
	createExecutionContext,
	createMessageBatch,
	env,
	getQueueResult,
} from "cloudflare:test";
import { expect, it } from "vitest";
import { consumeBatch } from "../../queues/consumer.ts";
import {
	chatEndId,
	chatTranscriptId,
	publisher,
} from "../../queues/publisher.ts";
import { api, createAgent, createSite } from "../helpers.ts";
import {
	deadLetters,
	deliveryState,
	receiver,
	waitFor,
} from "../queue-helpers.ts";
import type {
	ChatEndPayload,
	ChatTranscriptPayload,
	Envelope,
	TranscriptMessage,
} from "../../src/protocol/events.ts";

const T0 = 1_700_000_000_000;

/** A message of the visitor's stream (type 1) or an agent's (type 2), at an offset of that stream. */
function message(
	type: 1 | 2,
	dataOffset: number,
	sendTime: number,
	senderId: string
): TranscriptMessage {
	return {
		id: crypto.randomUUID(),
		type,
		dataOffset,
		content: `${type === 1 ? "visitor" : senderId} #${dataOffset}`,
		sendTime: T0 + sendTime,
		senderId,
	};
}

function chatEnd(
	siteId: string,
	chatId: string,
	agentIds: string[],
	transcript: TranscriptMessage[]
): ChatEndPayload {
	return {
		id: chatId,
		siteId,
		visitorId: "visitor-1",
		sessionId: chatId,
		visitor: { name: "Vera", email: null },
		ticket: {
			id: `tkt_${chatId.replaceAll("-", "")}`,
			ifNew: true,
			title: "Chat with Vera",
		},
		prechat: {
			name: null,
			email: null,
			phone: null,
			productService: null,
			department: null,
		},
		wrapup: null,
		agentIds,
		ifEnterQueue: true,
		requestTime: T0,
		startTime: T0 + 500,
		endTime: T0 + 10_000,
		transcript,
	};
}

const transcriptOf = (
	siteId: string,
	chatId: string,
	agentIds: string[],
	transcript: TranscriptMessage[]
): ChatTranscriptPayload => ({
	id: chatId,
	siteId,
	visitorId: "visitor-1",
	agentIds,
	transcript,
	endTime: T0 + 10_000,
});

/** The transcript's uniqueId, from the highest offsets in it (as the room names it). */
const transcriptIdOf = (payload: ChatTranscriptPayload) => {
	const top = (type: number) =>
		Math.max(
			0,
			...payload.transcript
				.filter((m) => m.type === type)
				.map((m) => m.dataOffset)
		);
	return chatTranscriptId(payload.id, top(1), top(2));
};

const storedIds = async (chatId: string) =>
	(
		await env.DB.prepare(
			`SELECT id FROM chat_messages WHERE chat_id = ? ORDER BY send_time, type <> 1, data_offset`
		)
			.bind(chatId)
			.all<{ id: string }>()
	).results.map((r) => r.id);
const storedChat = (chatId: string) =>
	env.DB.prepare(
		`SELECT agent_ids AS agentIds, message_count AS messageCount, end_time AS endTime FROM chats WHERE id = ?`
	)
		.bind(chatId)
		.first<{ agentIds: string; messageCount: number; endTime: number }>();
const repeatsOf = async (key: string) =>
	(await env.DB.prepare(`SELECT repeats FROM deliveries WHERE key = ?`)
		.bind(key)
		.first<number>("repeats")) ?? 0;
const done = (key: string) =>
	waitFor(key, async () => (await deliveryState(key))?.state === "done");

it(
	"adds the messages and agents a chat gained after its end: the union, once each, in display order, in both agents' history",
	{ timeout: 30_000 },
	async () => {
		const siteId = await createSite();
		const alice = await createAgent(siteId, "Alice");
		const bob = await createAgent(siteId, "Bob");
		const chatId = crypto.randomUUID();
		const v1 = message(1, 1, 1000, "visitor-1");
		const a1 = message(2, 1, 2000, alice.agentId);
		const v2 = message(1, 2, 3000, "visitor-1");
		// What the other side held: Bob joined, and messages on both streams that the ending room never saw.
		const b2 = message(2, 2, 2500, bob.agentId);
		const v3 = message(1, 3, 4000, "visitor-1");
		const events = publisher(env, siteId);

		await events.publish(
			"chat.end",
			chatEndId(chatId),
			chatEnd(siteId, chatId, [alice.agentId], [v1, a1, v2])
		);
		await done(`chat.end.persistence:${chatEndId(chatId)}`);
		expect(await storedIds(chatId)).toEqual([v1.id, a1.id, v2.id]);

		const fuller = transcriptOf(
			siteId,
			chatId,
			[bob.agentId, alice.agentId],
			[v1, a1, b2, v2, v3]
		);
		expect(transcriptIdOf(fuller)).toBe(`chat.transcript:${chatId}:3:2`);
		await events.publish("chat.transcript", transcriptIdOf(fuller), fuller);
		await done(`chat.transcript.persistence:${transcriptIdOf(fuller)}`);

		expect(await storedIds(chatId)).toEqual([
			v1.id,
			a1.id,
			b2.id,
			v2.id,
			v3.id,
		]);
		expect(await storedChat(chatId)).toEqual({
			agentIds: JSON.stringify([alice.agentId, bob.agentId]),
			messageCount: 5,
			endTime: T0 + 10_000,
		});
		for (const agent of [alice, bob]) {
			const res = await api(`/sites/${siteId}/history/chats/${chatId}`, {
				token: agent.token,
			});
			expect(res.status).toBe(200);
			const body = await res.json<{
				chat: { messageCount: number; agentIds: string[] };
				messages: TranscriptMessage[];
			}>();
			expect(body.chat).toMatchObject({
				messageCount: 5,
				agentIds: [alice.agentId, bob.agentId],
			});
			expect(body.messages).toEqual([v1, a1, b2, v2, v3]);
			const list = await api(`/sites/${siteId}/history/chats`, {
				token: agent.token,
			});
			expect(
				(await list.json<{ chats: { chatId: string }[] }>()).chats.map(
					(c) => c.chatId
				)
			).toEqual([chatId]);
		}
	}
);

it(
	"never shrinks a stored chat: a second, fuller chat.end adds; partial copies and repeats of either event change nothing",
	{ timeout: 60_000 },
	async () => {
		const siteId = await createSite();
		const chatId = crypto.randomUUID();
		const v1 = message(1, 1, 1000, "visitor-1");
		const a1 = message(2, 1, 2000, "agent-a");
		const a2 = message(2, 2, 3000, "agent-b");
		const v2 = message(1, 2, 4000, "visitor-1");
		const events = publisher(env, siteId);
		const endKey = `chat.end.persistence:${chatEndId(chatId)}`;

		// The first deployment ended it with the visitor's side only (a rebuild from the visitor's copy).
		await events.publish(
			"chat.end",
			chatEndId(chatId),
			chatEnd(siteId, chatId, ["agent-a"], [v1, v2])
		);
		await done(endKey);
		// A second deployment ends the same chat (same uniqueId) with both sides: it adds, and is counted as a repeat.
		await events.publish(
			"chat.end",
			chatEndId(chatId),
			chatEnd(siteId, chatId, ["agent-a", "agent-b"], [v1, a1, a2, v2])
		);
		await waitFor(
			"the fuller chat.end",
			async () => (await repeatsOf(endKey)) >= 1
		);
		expect(await storedIds(chatId)).toEqual([v1.id, a1.id, a2.id, v2.id]);
		expect(await storedChat(chatId)).toMatchObject({
			agentIds: JSON.stringify(["agent-a", "agent-b"]),
			messageCount: 4,
		});

		// A partial copy (the agent side alone, one agent) and a plain redelivery: nothing removed, nothing doubled.
		await events.publish(
			"chat.end",
			chatEndId(chatId),
			chatEnd(siteId, chatId, ["agent-b"], [a2])
		);
		const transcript = transcriptOf(
			siteId,
			chatId,
			["agent-a", "agent-b"],
			[v1, a1, a2, v2]
		);
		const transcriptKey = `chat.transcript.persistence:${transcriptIdOf(transcript)}`;
		await events.publish(
			"chat.transcript",
			transcriptIdOf(transcript),
			transcript
		);
		await done(transcriptKey);
		await events.publish(
			"chat.transcript",
			transcriptIdOf(transcript),
			transcript
		);
		await events.publish(
			"chat.transcript",
			transcriptIdOf(transcript),
			transcriptOf(siteId, chatId, [], [v2])
		);
		await waitFor(
			"both chat.transcript repeats",
			async () => (await repeatsOf(transcriptKey)) >= 2
		);
		await waitFor(
			"the partial chat.end",
			async () => (await repeatsOf(endKey)) >= 2
		);

		expect(await storedIds(chatId)).toEqual([v1.id, a1.id, a2.id, v2.id]);
		expect(await storedChat(chatId)).toMatchObject({
			agentIds: JSON.stringify(["agent-a", "agent-b"]),
			messageCount: 4,
		});
		expect(await deliveryState(endKey)).toMatchObject({
			state: "done",
			attempts: 1,
		});
		expect(await deliveryState(transcriptKey)).toMatchObject({
			state: "done",
			attempts: 1,
		});
		const agents = await env.DB.prepare(
			`SELECT agent_id FROM chat_agents WHERE site_id = ? AND chat_id = ? ORDER BY agent_id`
		)
			.bind(siteId, chatId)
			.all<{ agent_id: string }>();
		expect(agents.results.map((r) => r.agent_id)).toEqual([
			"agent-a",
			"agent-b",
		]);
		expect(
			await env.DB.prepare(`SELECT COUNT(*) AS n FROM chats WHERE id = ?`)
				.bind(chatId)
				.first<number>("n")
		).toBe(1);
	}
);

it("keeps a chat.transcript that comes before its chat.end until the chat is stored, then merges it", async () => {
	const siteId = await createSite();
	const chatId = crypto.randomUUID();
	const v1 = message(1, 1, 1000, "visitor-1");
	const a1 = message(2, 1, 2000, "agent-a");
	const transcript = transcriptOf(siteId, chatId, ["agent-a"], [v1, a1]);
	const envelopeOf = (
		name: string,
		uniqueId: string,
		payload: unknown
	): Envelope => ({ uniqueId, name, siteId, payload, publishedAt: Date.now() });
	const deliver = async (envelope: Envelope) => {
		const batch = createMessageBatch("deliver-persistence", [
			{ id: "m1", timestamp: new Date(), attempts: 1, body: envelope },
		]);
		const asked: (QueueRetryOptions | undefined)[] = [];
		const retry = batch.messages[0]!.retry.bind(batch.messages[0]);
		Object.defineProperty(batch.messages[0], "retry", {
			value: (options?: QueueRetryOptions) => (
				asked.push(options),
				retry(options)
			),
		});
		const ctx = createExecutionContext();
		await consumeBatch(batch, env);
		return { result: await getQueueResult(batch, ctx), asked };
	};
	const early = envelopeOf(
		"chat.transcript.persistence",
		transcriptIdOf(transcript),
		transcript
	);

	const first = await deliver(early);
	expect(first.result).toMatchObject({
		explicitAcks: [],
		retryMessages: [{ msgId: "m1" }],
	});
	expect(first.asked).toEqual([{ delaySeconds: 10 }]);
	expect(await storedIds(chatId)).toEqual([]);
	expect(
		await deliveryState(`chat.transcript.persistence:${early.uniqueId}`)
	).toBeNull();

	expect(
		(
			await deliver(
				envelopeOf(
					"chat.end.persistence",
					chatEndId(chatId),
					chatEnd(siteId, chatId, [], [v1])
				)
			)
		).result
	).toMatchObject({ explicitAcks: ["m1"] });
	expect((await deliver(early)).result).toMatchObject({
		explicitAcks: ["m1"],
		retryMessages: [],
	});
	expect(await storedIds(chatId)).toEqual([v1.id, a1.id]);
	expect(await storedChat(chatId)).toMatchObject({
		agentIds: JSON.stringify(["agent-a"]),
		messageCount: 2,
	});
	expect(await deadLetters(early.uniqueId)).toEqual([]);
});

it(
	"sends chat.transcript to persistence only, whatever else the site has switched on",
	{ timeout: 30_000 },
	async () => {
		const hook = receiver();
		const salesforce = receiver();
		const zendesk = receiver();
		const siteId = await createSite({
			integrations: {
				email: { enabled: true, to: ["support@example.com"] },
				ticket: { enabled: true },
				webhook: {
					enabled: true,
					url: `${hook.base}/hook`,
					secret: "webhook-secret-0123456789",
				},
				salesforce: {
					enabled: true,
					baseUrl: salesforce.base,
					accessToken: "sf-token",
				},
				zendesk: {
					enabled: true,
					baseUrl: zendesk.base,
					email: "ops@example.com",
					apiToken: "zd-token",
				},
			},
		});
		const chatId = crypto.randomUUID();
		const v1 = message(1, 1, 1000, "visitor-1");
		const a1 = message(2, 1, 2000, "agent-a");
		const events = publisher(env, siteId);
		await events.publish(
			"chat.end",
			chatEndId(chatId),
			chatEnd(siteId, chatId, ["agent-a"], [v1])
		);
		for (const target of [
			"persistence",
			"ticket",
			"webhook",
			"salesforce",
			"zendesk",
		])
			await done(`chat.end.${target}:${chatEndId(chatId)}`);
		await done(`chat.end.email:${chatEndId(chatId)}:support@example.com`);

		const transcript = transcriptOf(siteId, chatId, ["agent-a"], [v1, a1]);
		const uniqueId = transcriptIdOf(transcript);
		await events.publish("chat.transcript", uniqueId, transcript);
		await done(`chat.transcript.persistence:${uniqueId}`);
		// Anything else would have left the distributor with persistence's message; give it time to show up.
		await new Promise((r) => setTimeout(r, 1500));
		const keys = await env.DB.prepare(
			`SELECT key FROM deliveries WHERE key LIKE 'chat.transcript.%' AND instr(key, ?) > 0 ORDER BY key`
		)
			.bind(`:${uniqueId}`)
			.all<{ key: string }>();
		expect(keys.results.map((r) => r.key)).toEqual([
			`chat.transcript.persistence:${uniqueId}`,
		]);
		for (const target of [hook, salesforce, zendesk])
			expect(await target.requests()).toHaveLength(1);
		expect((await hook.requests())[0]!.headers["x-livechat-event"]).toBe(
			"chat.end"
		);
		expect(
			await env.DB.prepare(
				`SELECT COUNT(*) AS n FROM tickets WHERE chat_id = ?`
			)
				.bind(chatId)
				.first<number>("n")
		).toBe(1);
		expect(await storedIds(chatId)).toEqual([v1.id, a1.id]);
		expect(await deadLetters(uniqueId)).toEqual([]);
	}
);
