/** The SDK side of the event endpoints: rating, wrap-up (rebuilding a room that lost the chat), offline message. */
import { env } from "cloudflare:test";
import { expect, it } from "vitest";
import { LiveChatClient } from "../../client/live-chat-client.ts";
import { recordingFetch, visitorAndAgent } from "../clients.ts";
import { BASE } from "../helpers.ts";
import { loseChat } from "../lose-chat.ts";
import {
	delivered,
	persisted,
	storedPayload,
	storedRating,
} from "../queue-helpers.ts";

it(
	"rates, wraps up after the room lost the chat, and leaves an offline message, each reaching D1",
	{ timeout: 30_000 },
	async () => {
		const { siteId, visitor, agent } = await visitorAndAgent({
			visitor: { name: "Rae" },
		});
		await visitor.send("Is the shop open on Sunday?");
		await agent.poll();
		await agent.send("Yes, 10 to 4.");

		await loseChat(siteId, visitor.chatId);
		// The room answers code 1; the agent's client rebuilds the chat and sends the wrap-up again.
		const wrapupId = await agent.wrapup({ category: "opening hours" });
		await visitor.end();
		const ratingId = await visitor.rate(5, "Quick!");
		const offlineId = await LiveChatClient.submitOfflineMessage(
			{ baseUrls: [BASE], siteId, fetch: recordingFetch([]) },
			{ email: "rae@example.com", message: "Call me" }
		);

		await persisted(visitor.chatId);
		for (const key of [
			`agent.wrapup.persistence:${wrapupId}`,
			`visitor.rating.persistence:${ratingId}`,
			`offlineMessage.submit.persistence:offlineMessage.submit:${siteId}:${offlineId}`,
		])
			await delivered(key);
		const payload = await storedPayload(visitor.chatId);
		expect(payload.wrapup).toEqual({
			category: "opening hours",
			comment: null,
		});
		expect(await storedRating(visitor.chatId)).toEqual({
			rating: 5,
			comment: "Quick!",
		});
		expect(
			await env.DB.prepare(
				`SELECT message FROM offline_messages WHERE site_id = ? AND id = ?`
			)
				.bind(siteId, offlineId)
				.first<string>("message")
		).toBe("Call me");
	}
);
