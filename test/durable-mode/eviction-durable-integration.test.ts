import {
	abortAllDurableObjects,
	env,
	runInDurableObject,
} from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { chatRoom } from "../../durable-objects/room-contract.ts";
import { api, createSite, poll, send, startChat } from "../helpers.ts";
import { until } from "../waiting.ts";

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

	it("answers a call that the eviction cut short with 503 and Retry-After, not an internal error", async () => {
		const siteId = await createSite();
		const chat = await startChat(siteId);
		await send(siteId, chat.chatId, chat.token, [0, 0], "before");
		const held = api(`/sites/${siteId}/chats/${chat.chatId}/messages?wait=10`, {
			token: chat.token,
			offsets: [1, 0],
		});
		const room = chatRoom(env, siteId, chat.chatId);
		await until(
			() =>
				runInDurableObject(
					room,
					(instance) =>
						(instance as unknown as { waiters: Set<unknown> }).waiters.size ===
						1
				),
			"the poll to be held in the room"
		);
		// The room resets under the held call, as the chaos run's eviction does it.
		await chatRoom(env, siteId, chat.chatId)
			.abortForChaos()
			.catch(() => undefined);
		const cut = await held;
		expect(cut.status).toBe(503);
		expect(cut.headers.get("Retry-After")).toBe("1");
		expect(((await cut.json()) as { error: { type: string } }).error.type).toBe(
			"unavailable"
		);
		// The retry the client makes finds the chat as it was.
		const after = await poll(siteId, chat.chatId, chat.token);
		expect(
			after.body.messages.map((m: { content: string }) => m.content)
		).toEqual(["before"]);
	});
});
