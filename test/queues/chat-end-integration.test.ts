/** Ending a chat fans out to exactly the enabled integrations; persistence and history. */
import { env } from "cloudflare:test";
import { expect, it } from "vitest";
import { converse, serverMessages, visitorAndAgent } from "../clients.ts";
import { api, createSite } from "../helpers.ts";
import {
	delivered,
	deliveryQueues,
	deliveryState,
	endChat,
	everyIntegration,
	queuesDrained,
	rowOf,
} from "../queue-helpers.ts";

it("ends a chat once: persistence, email, ticket, webhook and Zendesk act, Salesforce (off) gets nothing, history has every message", async () => {
	const { hook, salesforce, zendesk, integrations } = everyIntegration();
	const siteId = await createSite({
		integrations: {
			...integrations,
			// Configured but off: it must receive nothing.
			salesforce: { ...integrations.salesforce, enabled: false },
		},
	});
	const { visitor, agent, agentToken, agentId } = await visitorAndAgent({
		siteId,
		visitor: { name: "Vera", email: "vera@example.com" },
	});
	await converse(visitor, agent, 3);
	const chatId = visitor.chatId;
	const everything = await serverMessages(siteId, chatId, agentToken);

	expect((await endChat(siteId, chatId, visitor.token)).status).toBe(200);
	const transcript = await serverMessages(siteId, chatId, agentToken);
	expect(transcript.length).toBe(everything.length + 1);

	const uniqueId = `chat.end:${chatId}`;
	for (const target of ["persistence", "ticket", "webhook", "zendesk"])
		await delivered(`chat.end.${target}:${uniqueId}`);
	await delivered(`chat.end.email:${uniqueId}:support@example.com`);
	// Salesforce's message would have left the distributor with the others: once the queues are drained it would show.
	await queuesDrained(env.Q_CHAT_END);
	await queuesDrained(...deliveryQueues());
	expect(await deliveryState(`chat.end.salesforce:${uniqueId}`)).toBeNull();
	expect(await salesforce.requests()).toEqual([]);
	expect(await hook.requests()).toHaveLength(1);
	expect(await zendesk.requests()).toHaveLength(1);

	const row = await rowOf(
		`SELECT site_id, visitor_name, message_count, agent_ids FROM chats WHERE id = ?`,
		chatId
	);
	expect(row).toEqual({
		site_id: siteId,
		visitor_name: "Vera",
		message_count: transcript.length,
		agent_ids: JSON.stringify([agentId]),
	});
	const ticket = await rowOf(
		`SELECT subject, requester_email, chat_id FROM tickets WHERE source_id = ?`,
		uniqueId
	);
	expect(ticket).toEqual({
		subject: "Chat with Vera",
		requester_email: "vera@example.com",
		chat_id: chatId,
	});

	const history = await api(`/sites/${siteId}/history/chats/${chatId}`, {
		token: agentToken,
	});
	expect(history.status).toBe(200);
	const body = await history.json<{
		chat: { chatId: string; messageCount: number };
		messages: Record<string, unknown>[];
	}>();
	expect(body.chat).toMatchObject({ chatId, messageCount: transcript.length });
	expect(body.messages).toEqual(transcript.map(({ mac: _mac, ...m }) => m));

	const list = await api(`/sites/${siteId}/history/chats`, {
		token: agentToken,
	});
	expect(
		(await list.json<{ chats: { chatId: string }[] }>()).chats.map(
			(c) => c.chatId
		)
	).toEqual([chatId]);
	// Visitors do not read history.
	expect(
		(
			await api(`/sites/${siteId}/history/chats/${chatId}`, {
				token: visitor.token,
			})
		).status
	).toBe(403);
});
