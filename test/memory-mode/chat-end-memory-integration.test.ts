/** Memory mode has no storage, but an ended chat still reaches D1 once, even when the room forgets it in between. */
import { expect, it } from "vitest";
import { chatEndId } from "../../queues/publisher.ts";
import { converse, serverMessages, visitorAndAgent } from "../clients.ts";
import { api } from "../helpers.ts";
import { loseChat } from "../lose-chat.ts";
import {
	countOf,
	delivered,
	endChat,
	repeatsOf,
	waitFor,
} from "../queue-helpers.ts";

it(
	"persists a memory-mode chat's transcript at its end, once, though the evicted room is rebuilt and ended again",
	{ timeout: 30_000 },
	async () => {
		const { siteId, visitor, agent, agentToken } = await visitorAndAgent({
			visitor: { name: "Mia" },
		});
		await converse(visitor, agent, 2);
		await visitor.end();
		const transcript = await serverMessages(siteId, visitor.chatId, agentToken);
		const key = `chat.end.persistence:${chatEndId(visitor.chatId)}`;
		await delivered(key);

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
			async () => (await repeatsOf(key)) >= 1
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
			await countOf(
				`SELECT COUNT(*) AS n FROM chat_messages WHERE chat_id = ?`,
				visitor.chatId
			)
		).toBe(transcript.length);
	}
);
