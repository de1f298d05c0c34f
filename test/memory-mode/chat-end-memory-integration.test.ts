/** Memory mode has no storage, but an ended chat still reaches D1 once, even when the room forgets it in between. */
import { env } from "cloudflare:test";
import { expect, it } from "vitest";
import { LiveChatClient } from "../../client/live-chat-client.ts";
import { chatEndId } from "../../queues/publisher.ts";
import { converse, recordingFetch, serverMessages } from "../clients.ts";
import { accept, api, BASE, createAgent, createSite } from "../helpers.ts";
import { loseChat } from "../lose-chat.ts";
import { deliveryState, endChat, waitFor } from "../queue-helpers.ts";

it(
	"persists a memory-mode chat's transcript at its end, once, though the evicted room is rebuilt and ended again",
	{ timeout: 30_000 },
	async () => {
		const siteId = await createSite();
		const visitor = await LiveChatClient.startChat({
			baseUrls: [BASE],
			siteId,
			visitor: { name: "Mia" },
			fetch: recordingFetch([]),
		});
		const { token: agentToken } = await createAgent(siteId);
		await accept(siteId, visitor.chatId, agentToken);
		const agent = new LiveChatClient({
			baseUrls: [BASE],
			siteId,
			chatId: visitor.chatId,
			token: agentToken,
			fetch: recordingFetch([]),
		});
		await converse(visitor, agent, 2);
		await visitor.end();
		const transcript = await serverMessages(siteId, visitor.chatId, agentToken);
		const key = `chat.end.persistence:${chatEndId(visitor.chatId)}`;
		await waitFor(
			"the persisted chat",
			async () => (await deliveryState(key))?.state === "done"
		);

		// Evicted: the room forgets the chat and that it announced the end; the clients rebuild it, ended.
		await loseChat(siteId, visitor.chatId);
		await visitor.poll();
		// The agent's client calls too: the room rebuilt from the visitor's copy alone waits for that before chat.end (SPEC §3).
		await agent.poll();
		expect((await endChat(siteId, visitor.chatId, visitor.token)).status).toBe(
			200
		);
		await waitFor(
			"the repeat to be skipped",
			async () =>
				((await env.DB.prepare(`SELECT repeats FROM deliveries WHERE key = ?`)
					.bind(key)
					.first<number>("repeats")) ?? 0) >= 1
		);

		const history = await (
			await api(`/sites/${siteId}/history/chats/${visitor.chatId}`, {
				token: agentToken,
			})
		).json<{ messages: unknown[] }>();
		expect(history.messages).toEqual(
			transcript.map(({ mac: _mac, ...m }) => m)
		);
		expect(
			await env.DB.prepare(
				`SELECT COUNT(*) AS n FROM chat_messages WHERE chat_id = ?`
			)
				.bind(visitor.chatId)
				.first<number>("n")
		).toBe(transcript.length);
	}
);
