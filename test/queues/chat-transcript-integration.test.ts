/** A stored chat only grows (SPEC §3, §8): chat.transcript and a second chat.end merge by message id. */
import { env } from "cloudflare:test";
import { expect, it } from "vitest";
import { chatEndId, publisher } from "../../queues/publisher.ts";
import { api, createAgent, createSite } from "../helpers.ts";
import {
	countOf,
	delivered,
	deliveryState,
	repeatsOf,
	waitFor,
} from "../queue-helpers.ts";
import {
	chatEnd,
	message,
	storedChat,
	storedIds,
	T0,
	transcriptIdOf,
	transcriptOf,
} from "./transcripts.ts";
import type { TranscriptMessage } from "../../src/protocol/events.ts";

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
		await delivered(`chat.end.persistence:${chatEndId(chatId)}`);
		expect(await storedIds(chatId)).toEqual([v1.id, a1.id, v2.id]);

		const fuller = transcriptOf(
			siteId,
			chatId,
			[bob.agentId, alice.agentId],
			[v1, a1, b2, v2, v3]
		);
		expect(transcriptIdOf(fuller)).toBe(`chat.transcript:${chatId}:3:2`);
		await events.publish("chat.transcript", transcriptIdOf(fuller), fuller);
		await delivered(`chat.transcript.persistence:${transcriptIdOf(fuller)}`);

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
		await delivered(endKey);
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
		await delivered(transcriptKey);
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
			await countOf(`SELECT COUNT(*) AS n FROM chats WHERE id = ?`, chatId)
		).toBe(1);
	}
);
