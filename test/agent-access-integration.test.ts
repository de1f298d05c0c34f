/** SPEC §4, §7: an agent acts in a chat only while it is one of its agents; taking a waiting chat is an accept, won once. */
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import {
	accept,
	api,
	createAgent,
	createSite,
	json,
	poll,
	rebuild,
	send,
	startChat,
} from "./helpers.ts";
import { loseChat } from "./lose-chat.ts";
import { TestSocket } from "./sockets.ts";

describe("agent access to chats", () => {
	it("refuses an agent that is not one of the chat's agents: no reading, sending or ending by id", async () => {
		const siteId = await createSite();
		const chat = await startChat(siteId);
		const alice = await createAgent(siteId, "Alice");
		const mallory = await createAgent(siteId, "Mallory");
		await send(siteId, chat.chatId, chat.token, [0, 0], "my card number is …");
		expect((await accept(siteId, chat.chatId, alice.token)).status).toBe(200);

		const read = await poll(siteId, chat.chatId, mallory.token);
		expect(read.status).toBe(403);
		expect(read.body.error?.type).toBe("not_in_chat");
		expect(
			(await send(siteId, chat.chatId, mallory.token, [1, 1], "hi")).status
		).toBe(403);
		expect(
			(
				await api(`/sites/${siteId}/chats/${chat.chatId}/end`, {
					method: "POST",
					token: mallory.token,
				})
			).status
		).toBe(403);
		const socket = await TestSocket.open(siteId, chat.chatId);
		socket.send({
			type: "hello",
			token: mallory.token,
			visitorDataOffset: 0,
			agentDataOffset: 0,
		});
		expect(await socket.closed()).toBe(4403);

		const server = await poll(siteId, chat.chatId, alice.token);
		expect(server.body.messages.map((m) => m.content)).toEqual([
			"my card number is …",
			"Alice joined the chat",
		]);
		expect(server.body.status).toBe("chatting");
	});

	it("lets exactly one of two agents accepting at once take the chat; the other gets 409", async () => {
		const siteId = await createSite();
		const chat = await startChat(siteId);
		const agents = await Promise.all([
			createAgent(siteId, "Alice"),
			createAgent(siteId, "Bob"),
		]);
		const answers = await Promise.all(
			agents.map((a) => accept(siteId, chat.chatId, a.token))
		);
		expect(answers.map((a) => a.status).sort()).toEqual([200, 409]);
		const winner = answers.findIndex((a) => a.status === 200);
		expect(answers[winner]!.body.chatState).toBeTruthy();
		expect(answers[1 - winner]!.body.error?.type).toBe("conflict");
		// The winner accepting again changes nothing; the visitor cannot accept.
		expect(
			(await accept(siteId, chat.chatId, agents[winner]!.token)).status
		).toBe(200);
		expect((await accept(siteId, chat.chatId, chat.token)).status).toBe(403);
		const messages = (await poll(siteId, chat.chatId, chat.token)).body
			.messages;
		expect(messages.filter((m) => m.type === 4)).toHaveLength(1);
	});

	it("lets an agent back into a chat that came back by rebuild only with a chatState that lists it", async () => {
		const siteId = await createSite();
		const chat = await startChat(siteId);
		const alice = await createAgent(siteId, "Alice");
		const mallory = await createAgent(siteId, "Mallory");
		await send(siteId, chat.chatId, chat.token, [0, 0], "hello");
		const taken = await accept(siteId, chat.chatId, alice.token);
		const alicesCopy = (await poll(siteId, chat.chatId, alice.token)).body
			.messages;

		await loseChat(siteId, chat.chatId);
		// The visitor rebuilds from its oldest state, which lists no agent.
		const visitorCopy = alicesCopy.filter((m) => m.type === 1);
		expect(
			(
				await rebuild(siteId, chat.chatId, chat.token, {
					chatState: chat.chatState,
					visitorDataOffset: 1,
					agentDataOffset: 0,
					messages: visitorCopy,
				})
			).status
		).toBe(200);

		// Alice is asked to rebuild (code 1), and her chatState puts her back; Mallory's own proves nothing.
		const asked = await poll(siteId, chat.chatId, alice.token, [1, 1]);
		expect(asked.body).toMatchObject({
			code: 1,
			visitorDataOffset: 1,
			agentDataOffset: 0,
		});
		const back = await rebuild(siteId, chat.chatId, alice.token, {
			chatState: taken.body.chatState,
			visitorDataOffset: 1,
			agentDataOffset: 1,
			messages: alicesCopy.filter((m) => m.type !== 1),
		});
		expect(back.status).toBe(200);
		expect(
			(await poll(siteId, chat.chatId, alice.token, [1, 1])).body.code
		).toBe(0);
		const refused = await rebuild(siteId, chat.chatId, mallory.token, {
			chatState: chat.chatState,
			visitorDataOffset: 0,
			agentDataOffset: 0,
			messages: [],
		});
		expect(refused.status).toBe(403);
		expect(refused.body.error?.type).toBe("not_in_chat");
	});

	it("closes an agent's socket with 4401 once the admin revokes its tokens", async () => {
		const siteId = await createSite();
		const chat = await startChat(siteId);
		const alice = await createAgent(siteId, "Alice");
		await accept(siteId, chat.chatId, alice.token);
		const socket = await TestSocket.hello(
			siteId,
			chat.chatId,
			alice.token,
			[0, 1]
		);
		const disabled = await api(
			`/admin/sites/${siteId}/agents/${alice.agentId}`,
			{
				method: "PATCH",
				token: env.ADMIN_TOKEN,
				body: json({ disabled: true }),
			}
		);
		expect(disabled.status).toBe(200);
		// Closed at once, though the socket is idle: the dispatcher passes the revocation to the rooms of the agent's chats.
		expect(await socket.closed()).toBe(4401);
		expect((await poll(siteId, chat.chatId, alice.token)).status).toBe(401);
	});
});
