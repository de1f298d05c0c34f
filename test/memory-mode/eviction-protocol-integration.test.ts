import { abortAllDurableObjects } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { createSite, poll, rebuild, send, startChat } from "../helpers.ts";

describe("eviction in memory mode, raw protocol", () => {
	it("forgets the chat on eviction in memory mode and answers code 1 with -1/-1", async () => {
		const siteId = await createSite();
		const chat = await startChat(siteId);
		const sent = await send(
			siteId,
			chat.chatId,
			chat.token,
			[0, 0],
			"before eviction"
		);
		await abortAllDurableObjects();
		const after = await send(
			siteId,
			chat.chatId,
			chat.token,
			[1, 0],
			"after eviction"
		);
		expect(after.body).toEqual({
			code: 1,
			visitorDataOffset: -1,
			agentDataOffset: -1,
			messages: [],
		});
		const rebuilt = await rebuild(siteId, chat.chatId, chat.token, {
			chatState: sent.body.chatState,
			visitorDataOffset: 1,
			agentDataOffset: 0,
			messages: sent.body.messages,
		});
		// The client already holds what it uploaded: the answer does not send it back.
		expect(rebuilt.body).toMatchObject({
			code: 0,
			visitorDataOffset: 1,
			agentDataOffset: 0,
			messages: [],
		});
		expect((await poll(siteId, chat.chatId, chat.token)).body.messages).toEqual(
			sent.body.messages
		);
	});
});
