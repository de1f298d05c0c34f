import { env, runInDurableObject } from "cloudflare:test";
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
import { accept, BASE, createAgent, createSite } from "../helpers.ts";
import type { ChatStorage } from "../../durable-objects/chat-storage.ts";

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
			"the visitor to be pushed the agent's message",
			2000
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
});
