import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { keyRing } from "../src/security/keys.ts";
import { signMessage } from "../src/security/message-mac.ts";
import {
	accept,
	createAgent,
	createSite,
	poll,
	rebuild,
	send,
	startChat,
} from "./helpers.ts";
import { loseChat } from "./lose-chat.ts";
import type { ChatMessage } from "../src/protocol/chat.ts";

/** A chat with `n` visitor messages, then forgotten by the server; returns what a client kept. */
async function lostChatWith(n: number) {
	const siteId = await createSite();
	const chat = await startChat(siteId);
	const kept: ChatMessage[] = [];
	let chatState = chat.chatState;
	for (let i = 1; i <= n; i++) {
		const { body } = await send(
			siteId,
			chat.chatId,
			chat.token,
			[i - 1, 0],
			`message ${i}`
		);
		kept.push(...body.messages);
		chatState = body.chatState ?? chatState;
	}
	await loseChat(siteId, chat.chatId);
	return { siteId, chatId: chat.chatId, token: chat.token, kept, chatState };
}

const nothingStored = async (siteId: string, chatId: string, token: string) =>
	expect((await poll(siteId, chatId, token)).body).toEqual({
		code: 1,
		visitorDataOffset: -1,
		agentDataOffset: -1,
		messages: [],
	});

describe("rebuild rules", () => {
	it("holds back a message beyond a gap and answers code 1 until the gap is filled", async () => {
		const { siteId, chatId, token, kept, chatState } = await lostChatWith(3);
		const partial = await rebuild(siteId, chatId, token, {
			chatState,
			visitorDataOffset: 3,
			agentDataOffset: 0,
			messages: [kept[0], kept[2]],
		});
		expect(partial.status).toBe(200);
		expect(partial.body).toMatchObject({
			code: 1,
			visitorDataOffset: 1,
			agentDataOffset: 0,
			messages: [],
		});

		const rest = await rebuild(siteId, chatId, token, {
			chatState,
			visitorDataOffset: 3,
			agentDataOffset: 0,
			messages: [kept[1], kept[2]],
		});
		expect(rest.body).toMatchObject({
			code: 0,
			visitorDataOffset: 3,
			agentDataOffset: 0,
		});
		expect((await poll(siteId, chatId, token)).body.messages).toEqual(kept);
	});

	it("skips messages it already holds, so the same rebuild twice changes nothing", async () => {
		const { siteId, chatId, token, kept, chatState } = await lostChatWith(2);
		const body = {
			chatState,
			visitorDataOffset: 2,
			agentDataOffset: 0,
			messages: kept,
		};
		await rebuild(siteId, chatId, token, body);
		const again = await rebuild(siteId, chatId, token, body);
		expect(again.body).toMatchObject({
			code: 0,
			visitorDataOffset: 2,
			agentDataOffset: 0,
		});
		expect((await poll(siteId, chatId, token)).body.messages).toEqual(kept);
	});

	it("keeps both messages of a split brain: the second is re-appended with a new offset and mac, same id", async () => {
		const { siteId, chatId, token, kept, chatState } = await lostChatWith(2);
		// The server comes back with only the first message, then accepts another one at offset 2.
		await rebuild(siteId, chatId, token, {
			chatState,
			visitorDataOffset: 1,
			agentDataOffset: 0,
			messages: [kept[0]],
		});
		const other = await send(
			siteId,
			chatId,
			token,
			[1, 0],
			"accepted elsewhere"
		);
		expect(other.body.messages[0]!.dataOffset).toBe(2);

		const original = kept[1]!;
		const merged = await rebuild(siteId, chatId, token, {
			chatState,
			visitorDataOffset: 2,
			agentDataOffset: 0,
			messages: [original],
		});
		expect(merged.body).toMatchObject({
			code: 0,
			visitorDataOffset: 3,
			agentDataOffset: 0,
		});
		const moved = merged.body.messages.find((m) => m.id === original.id)!;
		expect(moved).toMatchObject({
			id: original.id,
			content: original.content,
			sendTime: original.sendTime,
			dataOffset: 3,
		});
		expect(moved.mac).not.toBe(original.mac);

		const all = (await poll(siteId, chatId, token)).body.messages;
		// The moved message keeps its send time, and shows at its new place: each stream reads in its offset
		// order wherever a split brain left its send times out of step (inDisplayOrder).
		expect(all.map((m) => [m.dataOffset, m.content])).toEqual([
			[1, "message 1"],
			[2, "accepted elsewhere"],
			[3, "message 2"],
		]);
		// The new mac verifies: giving the moved message back is a no-op, not a 403.
		const replay = await rebuild(siteId, chatId, token, {
			visitorDataOffset: 3,
			agentDataOffset: 0,
			messages: [moved],
		});
		expect(replay.body).toMatchObject({ code: 0, visitorDataOffset: 3 });
	});

	it("rejects a message whose content was altered with 403 invalid_mac and stores nothing", async () => {
		const { siteId, chatId, token, kept, chatState } = await lostChatWith(2);
		const altered = { ...kept[1]!, content: "I never said this" };
		const res = await rebuild(siteId, chatId, token, {
			chatState,
			visitorDataOffset: 2,
			agentDataOffset: 0,
			messages: [kept[0], altered],
		});
		expect(res.status).toBe(403);
		expect(res.body).toMatchObject({
			code: -1,
			error: { type: "invalid_mac" },
		});
		await nothingStored(siteId, chatId, token);
	});

	it("does not let a visitor forge an agent message through a rebuild", async () => {
		const { siteId, chatId, token, kept, chatState } = await lostChatWith(1);
		const forged: ChatMessage = {
			...kept[0]!,
			id: crypto.randomUUID(),
			type: 2,
			dataOffset: 1,
			content: "Refund approved",
			mac: kept[0]!.mac,
		};
		const res = await rebuild(siteId, chatId, token, {
			chatState,
			visitorDataOffset: 1,
			agentDataOffset: 1,
			messages: [kept[0], forged],
		});
		expect(res.status).toBe(403);
		expect(res.body.error?.type).toBe("invalid_mac");
		await nothingStored(siteId, chatId, token);
	});

	it("rejects a sealed chatState that was altered, or sealed for another chat, and stores nothing", async () => {
		const { siteId, chatId, token, kept, chatState } = await lostChatWith(1);
		const [format, kid, iv, ciphertext] = chatState.split(".");
		const flipped =
			ciphertext!.slice(0, 10) +
			(ciphertext![10] === "A" ? "B" : "A") +
			ciphertext!.slice(11);
		for (const bad of [
			`${format}.${kid}.${iv}.${flipped}`,
			(await startChat(siteId)).chatState,
			"not a sealed blob",
		]) {
			const res = await rebuild(siteId, chatId, token, {
				chatState: bad,
				visitorDataOffset: 1,
				agentDataOffset: 0,
				messages: kept,
			});
			expect(res.status).toBe(403);
			expect(res.body.error?.type).toBe("invalid_chat_state");
		}
		await nothingStored(siteId, chatId, token);
	});

	it("restores the chat's metadata from chatState: same visitor, agents and status", async () => {
		const siteId = await createSite();
		const chat = await startChat(siteId);
		const agent = await createAgent(siteId);
		await send(siteId, chat.chatId, chat.token, [0, 0], "hello");
		await accept(siteId, chat.chatId, agent.token);
		const reply = await send(siteId, chat.chatId, agent.token, [1, 0], "hi");
		const everything = (await poll(siteId, chat.chatId, chat.token)).body;
		await loseChat(siteId, chat.chatId);

		const rebuilt = await rebuild(siteId, chat.chatId, chat.token, {
			chatState: reply.body.chatState,
			visitorDataOffset: 1,
			agentDataOffset: 2,
			messages: everything.messages,
		});
		expect(rebuilt.body).toMatchObject({
			code: 0,
			status: "chatting",
			visitorDataOffset: 1,
			agentDataOffset: 2,
		});
		// The same visitor's token still works, and another visitor's does not.
		expect((await poll(siteId, chat.chatId, chat.token)).body.messages).toEqual(
			everything.messages
		);
		const stranger = await startChat(siteId);
		expect((await poll(siteId, chat.chatId, stranger.token)).status).toBe(403);
		// The agent is one of the chat's agents again: it may act in it with no rebuild of its own.
		expect(
			(await poll(siteId, chat.chatId, agent.token, [1, 2])).body
		).toMatchObject({ code: 0, visitorDataOffset: 1, agentDataOffset: 2 });
	});

	it("needs a chatState to recreate a chat it does not have", async () => {
		const { siteId, chatId, token, kept } = await lostChatWith(1);
		const res = await rebuild(siteId, chatId, token, {
			visitorDataOffset: 1,
			agentDataOffset: 0,
			messages: kept,
		});
		expect(res.status).toBe(400);
		await nothingStored(siteId, chatId, token);
	});

	it("takes an agent's name from the sealed state, not from what a client uploads", async () => {
		const siteId = await createSite();
		const chat = await startChat(siteId);
		const agent = await createAgent(siteId, "Alice");
		await accept(siteId, chat.chatId, agent.token);
		const reply = await send(siteId, chat.chatId, agent.token, [0, 0], "hi");
		const everything = (await poll(siteId, chat.chatId, chat.token)).body
			.messages;
		await loseChat(siteId, chat.chatId);

		const renamed = everything.map((m) =>
			m.type === 2 ? { ...m, senderName: "Alice (Security Team)" } : m
		);
		const rebuilt = await rebuild(siteId, chat.chatId, chat.token, {
			chatState: reply.body.chatState,
			visitorDataOffset: 0,
			agentDataOffset: 2,
			messages: renamed,
		});
		expect(rebuilt.body.code).toBe(0);
		const stored = (await poll(siteId, chat.chatId, chat.token)).body.messages;
		expect(stored).toEqual(everything);
		expect(stored.find((m) => m.type === 2)!.senderName).toBe("Alice");
	});
});

describe("an id two deployments accepted at different times", () => {
	it("answers the room's version to a client that uploads another, so the copies end up identical", async () => {
		const siteId = await createSite();
		const chat = await startChat(siteId);
		const sent = (await send(siteId, chat.chatId, chat.token, [0, 0], "hello"))
			.body.messages[0]!;
		// The same message as another deployment accepted it: a later sendTime, its own valid mac.
		const elsewhere = { ...sent, sendTime: sent.sendTime + 5 };
		elsewhere.mac = await signMessage(
			keyRing(env),
			siteId,
			chat.chatId,
			elsewhere
		);
		const answer = await rebuild(siteId, chat.chatId, chat.token, {
			chatState: chat.chatState,
			visitorDataOffset: 1,
			agentDataOffset: 0,
			messages: [elsewhere],
		});
		expect(answer.body.code).toBe(0);
		expect(answer.body.messages).toEqual([sent]);
		expect((await poll(siteId, chat.chatId, chat.token)).body.messages).toEqual(
			[sent]
		);
	});
});
