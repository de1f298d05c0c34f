import {
	abortAllDurableObjects,
	env,
	runInDurableObject,
} from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { LiveChatClient } from "../../client/index.ts";
import { ChatRoom } from "../../durable-objects/chat-room.ts";
import { chatRoom } from "../../durable-objects/room-contract.ts";
import { MessageType } from "../../src/protocol/offsets.ts";
import {
	fetchVia,
	socketOpener,
	socketVisitor,
	until,
} from "../client-helpers.ts";
import { expectSameAsServer, serverMessages } from "../clients.ts";
import {
	accept,
	BASE,
	createAgent,
	createSite,
	poll,
	rebuild,
	send,
	startChat,
} from "../helpers.ts";
import { TestSocket } from "../sockets.ts";
import type { ChatStorage } from "../../durable-objects/chat-storage.ts";
import type { ServerFrame } from "../../src/protocol/ws.ts";

/** The room's next SQLite write fails, the way a write lost on its way to disk would. */
async function loseNextWrite(siteId: string, chatId: string) {
	await runInDurableObject(chatRoom(env, siteId, chatId), (instance) => {
		const { storage } = (
			instance as unknown as { core: { parts: { storage: ChatStorage } } }
		).core.parts;
		storage.save = () => {
			delete (storage as Partial<ChatStorage>).save;
			throw new Error("the write was lost");
		};
	});
}

/** The room restarts and reloads what its storage holds; its sockets stay connected (as across hibernation). */
async function restartRoom(siteId: string, chatId: string) {
	await runInDurableObject(chatRoom(env, siteId, chatId), (instance, state) => {
		Object.assign(instance, new ChatRoom(state, env));
	});
}

describe("push before commit (durable mode, SPEC §3)", () => {
	it("a message pushed before its write was lost comes back by the receiver's rebuild, and the sender's retry adds it once", async () => {
		const siteId = await createSite();
		const visitor = await socketVisitor(siteId, socketOpener());
		const agentLogin = await createAgent(siteId);
		await accept(siteId, visitor.chatId, agentLogin.token);
		const agent = new LiveChatClient({
			baseUrls: [BASE],
			siteId,
			chatId: visitor.chatId,
			token: agentLogin.token,
			fetch: fetchVia,
			openSocket: socketOpener(),
		});
		await Promise.all([visitor.connect(), agent.connect()]);
		await visitor.send("is anyone there?");
		await until(
			() => agent.messages.some((m) => m.content === "is anyone there?"),
			"the agent to see the visitor's message"
		);

		await loseNextWrite(siteId, visitor.chatId);
		// The agent is not told its message was taken: the write it waits for failed.
		await expect(agent.send("yes, how can I help?")).rejects.toThrow();
		expect(agent.pending.map((m) => m.content)).toEqual([
			"yes, how can I help?",
		]);
		// The visitor was pushed the message before the write was issued, so it has it although the write never happened.
		await until(
			() => visitor.messages.some((m) => m.content === "yes, how can I help?"),
			"the visitor to be pushed the agent's message"
		);

		await restartRoom(siteId, visitor.chatId);
		const reloaded = await serverMessages(
			siteId,
			visitor.chatId,
			agentLogin.token
		);
		expect(reloaded.map((m) => m.content)).not.toContain(
			"yes, how can I help?"
		);
		// The visitor's next call finds the room behind it; its rebuild gives the message back.
		await visitor.send("thanks");
		// The agent's retry of the same message is idempotent: the room holds it already.
		await agent.flush();
		expect(agent.pending).toEqual([]);
		await until(
			() => agent.messages.some((m) => m.content === "thanks"),
			"the agent to see the visitor's answer"
		);
		await expectSameAsServer(siteId, visitor, agent.messages);
		const contents = visitor.messages
			.filter((m) => m.type !== MessageType.System)
			.map((m) => m.content);
		expect(contents).toEqual([
			"is anyone there?",
			"yes, how can I help?",
			"thanks",
		]);
		visitor.disconnect();
		agent.disconnect();
	});

	it("over HTTP and through a real restart: the receiver's next call gets code 1, its rebuild gives the message back, the retry is idempotent", async () => {
		const siteId = await createSite();
		const chat = await startChat(siteId);
		const agent = await createAgent(siteId);
		await accept(siteId, chat.chatId, agent.token);
		const visitorSocket = await TestSocket.hello(
			siteId,
			chat.chatId,
			chat.token
		);
		const joined = await poll(siteId, chat.chatId, chat.token);
		await visitorSocket.settled();

		await loseNextWrite(siteId, chat.chatId);
		const id = crypto.randomUUID();
		const failed = await send(
			siteId,
			chat.chatId,
			agent.token,
			[0, 1],
			"lost on the way to disk",
			id
		);
		// The sender is not told it was taken; the visitor's socket was pushed it before the write.
		expect(failed.status).toBeGreaterThanOrEqual(500);
		const { message: pushed } = await visitorSocket.next(
			(f): f is Extract<ServerFrame, { type: "message" }> =>
				f.type === "message" && f.message.id === id
		);
		visitorSocket.close();

		// The room restarts and reloads without it: the visitor's next call finds it behind.
		await abortAllDurableObjects();
		const ahead = await poll(siteId, chat.chatId, chat.token, [0, 2]);
		expect(ahead.body).toMatchObject({
			code: 1,
			visitorDataOffset: 0,
			agentDataOffset: 1,
		});
		const rebuilt = await rebuild(siteId, chat.chatId, chat.token, {
			chatState: joined.body.chatState,
			visitorDataOffset: 0,
			agentDataOffset: 2,
			messages: [pushed],
		});
		expect(rebuilt.body).toMatchObject({ code: 0, agentDataOffset: 2 });
		// The agent retries the same message: the room holds it once, where the visitor had it.
		const retried = await send(
			siteId,
			chat.chatId,
			agent.token,
			[0, 1],
			"lost on the way to disk",
			id
		);
		expect(retried.body.code).toBe(0);
		const server = await serverMessages(siteId, chat.chatId, agent.token);
		expect(server.filter((m) => m.id === id)).toEqual([pushed]);
		expect(server.map((m) => m.dataOffset)).toEqual([1, 2]);
	});
});
