/**
 * SPEC §3 "A rebuild from one side cannot shrink the chat": a visitor who rebuilds a lost chat from
 * nothing and ends it cannot erase the transcript, nor the agent's place in it.
 */
import { env, runDurableObjectAlarm } from "cloudflare:test";
import { expect, it } from "vitest";
import { chatRoom } from "../../durable-objects/room-contract.ts";
import { chatEndId } from "../../queues/publisher.ts";
import { converse, visitorAndAgent } from "../clients.ts";
import { api, rebuild } from "../helpers.ts";
import { endGraceOver, loseChat } from "../lose-chat.ts";
import {
	deliveryState,
	endChat,
	persisted,
	queuesDrained,
	waitFor,
} from "../queue-helpers.ts";

/** The sealed state the visitor got when it started: the oldest it holds, listing no agent. */
const chatStateOf = (client: object) =>
	(client as { chatState: string }).chatState;

const room = (siteId: string, chatId: string) => chatRoom(env, siteId, chatId);

async function persistedIds(chatId: string): Promise<string[]> {
	const { results } = await env.DB.prepare(
		`SELECT id FROM chat_messages WHERE chat_id = ?`
	)
		.bind(chatId)
		.all<{ id: string }>();
	return results.map((r) => r.id).sort();
}

/** The attack: the room lost the chat; the visitor rebuilds it from nothing with its oldest state, then ends it. */
async function eraseAttempt(
	siteId: string,
	chatId: string,
	token: string,
	oldestChatState: string
) {
	await loseChat(siteId, chatId);
	const emptied = await rebuild(siteId, chatId, token, {
		chatState: oldestChatState,
		visitorDataOffset: 0,
		agentDataOffset: 0,
		messages: [],
	});
	expect(emptied.status).toBe(200);
	const ended = await endChat(siteId, chatId, token);
	expect(ended.status).toBe(200);
}

it(
	"holds chat.end until the agent's copy is back, so the transcript has every message and the agent",
	{ timeout: 30_000 },
	async () => {
		const { siteId, visitor, agent, agentId } = await visitorAndAgent();
		const startState = chatStateOf(visitor);
		await converse(visitor, agent, 3);
		const everything = agent.messages.map((m) => m.id);

		await eraseAttempt(siteId, visitor.chatId, visitor.token, startState);
		// Nothing leaves the service while the chat may be one side's copy (a chat.end published by now would
		// have reached persistence once the queues are drained).
		await queuesDrained(env.Q_CHAT_END);
		await queuesDrained(env.Q_PERSISTENCE);
		expect(
			await deliveryState(`chat.end.persistence:${chatEndId(visitor.chatId)}`)
		).toBeNull();

		// The agent's next call brings its copy back; only then does chat.end go out, with all of it.
		await agent.poll();
		await persisted(visitor.chatId);
		const ids = await persistedIds(visitor.chatId);
		for (const id of everything) expect(ids).toContain(id);
		const row = await env.DB.prepare(`SELECT agent_ids FROM chats WHERE id = ?`)
			.bind(visitor.chatId)
			.first<string>("agent_ids");
		expect(JSON.parse(row!)).toEqual([agentId]);
	}
);

it(
	"adds what the agent brings after chat.end went out, and keeps the chat in the agent's history",
	{ timeout: 30_000 },
	async () => {
		const { siteId, visitor, agent, agentToken } = await visitorAndAgent();
		const startState = chatStateOf(visitor);
		await converse(visitor, agent, 2);
		const everything = agent.messages.map((m) => m.id);

		await eraseAttempt(siteId, visitor.chatId, visitor.token, startState);
		// The agent does not come back within the grace: chat.end goes out with the visitor's copy.
		await endGraceOver(siteId, visitor.chatId);
		await runDurableObjectAlarm(room(siteId, visitor.chatId));
		await persisted(visitor.chatId);
		expect((await persistedIds(visitor.chatId)).length).toBeLessThan(
			everything.length
		);

		// Later the agent's copy comes back: persistence merges it (chat.transcript), nothing is lost or doubled.
		await agent.poll();
		await waitFor("the merged transcript", async () => {
			const ids = await persistedIds(visitor.chatId);
			return everything.every((id) => ids.includes(id));
		});
		const ids = await persistedIds(visitor.chatId);
		expect(new Set(ids).size).toBe(ids.length);
		const history = await api(`/sites/${siteId}/history/chats`, {
			token: agentToken,
		});
		expect(
			(await history.json<{ chats: { chatId: string }[] }>()).chats.map(
				(c) => c.chatId
			)
		).toContain(visitor.chatId);
	}
);
