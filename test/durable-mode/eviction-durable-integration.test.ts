import { abortAllDurableObjects } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { createSite, poll, send, startChat } from "../helpers.ts";

describe("eviction in durable mode", () => {
	it("keeps the chat across eviction in durable mode", async () => {
		const siteId = await createSite();
		const chat = await startChat(siteId);
		const sent = await send(siteId, chat.chatId, chat.token, [0, 0], "kept");
		await abortAllDurableObjects();
		const after = await poll(siteId, chat.chatId, chat.token);
		expect(after.body.code).toBe(0);
		expect(after.body.messages).toEqual(sent.body.messages);
	});
});
