/** SPEC §7: bans refuse a visitor's sends and chat starts, close its page, and outlive a dispatcher that lost its state. */
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import {
	accept,
	createAgent,
	createSite,
	poll,
	rebuild,
	send,
} from "./helpers.ts";
import {
	ban,
	loseDispatcher,
	pageSocket,
	startWith,
	trackedList,
	visit,
} from "./visitors.ts";

describe("bans", () => {
	it("refuses a banned visitor's sends and chat starts with 403 banned, closes its page (4403), and keeps the ban in D1", async () => {
		const siteId = await createSite({
			routing: { mode: "manual", sticky: true },
		});
		const alice = await createAgent(siteId, "Alice");
		const visitor = await visit(siteId, { page: "/" });
		const page = await pageSocket(siteId, visitor.visitorState);
		const chat = (await startWith(siteId, visitor.visitorState)).body;
		expect((await accept(siteId, chat.chatId, alice.token)).status).toBe(200);
		expect(
			(await send(siteId, chat.chatId, chat.token, [0, 1], "hello")).status
		).toBe(200);

		// Bad bans: 4xx, nothing stored, the visitor still chats.
		for (const body of [
			{ minutes: 0 },
			{ minutes: 1.5 },
			{ minutes: "60" },
			{ reason: "" },
			{ reason: "spam", forever: true },
			"[]",
		]) {
			expect(
				(await ban(siteId, visitor.visitorId, alice.token, body)).status
			).toBe(400);
		}
		expect(
			(await ban(siteId, visitor.visitorId, chat.token, { reason: "me" }))
				.status
		).toBe(403);
		expect((await ban(siteId, "not-a-visitor", alice.token, {})).status).toBe(
			404
		);
		expect(
			(await send(siteId, chat.chatId, chat.token, [1, 1], "still fine")).status
		).toBe(200);
		expect(
			await env.DB.prepare(`SELECT COUNT(*) AS n FROM bans WHERE site_id = ?`)
				.bind(siteId)
				.first("n")
		).toBe(0);

		const banned = await ban(siteId, visitor.visitorId, alice.token, {
			reason: "abusive language",
			minutes: 60,
		});
		expect(banned.status).toBe(200);
		const { until } = await banned.json<{ until: number }>();
		expect(until).toBeGreaterThan(Date.now() + 59 * 60_000);

		const refused = await send(
			siteId,
			chat.chatId,
			chat.token,
			[2, 1],
			"let me in"
		);
		expect(refused.status).toBe(403);
		expect(refused.body.error?.type).toBe("banned");
		const again = await startWith(siteId, visitor.visitorState);
		expect(again.status).toBe(403);
		expect(again.body.error?.type).toBe("banned");
		expect(await page.closed()).toBe(4403);
		// The visitor may still read; the agent still writes; the list says banned.
		expect((await poll(siteId, chat.chatId, chat.token, [2, 1])).status).toBe(
			200
		);
		expect(
			(await send(siteId, chat.chatId, alice.token, [2, 1], "Goodbye")).status
		).toBe(200);
		expect((await trackedList(siteId, alice.token))[0]).toMatchObject({
			visitorId: visitor.visitorId,
			banned: true,
		});
		expect(
			await env.DB.prepare(
				`SELECT visitor_id, until, reason, agent_id FROM bans WHERE site_id = ?`
			)
				.bind(siteId)
				.all()
				.then((r) => r.results)
		).toEqual([
			{
				visitor_id: visitor.visitorId,
				until,
				reason: "abusive language",
				agent_id: alice.agentId,
			},
		]);
		// Another visitor is not concerned.
		const other = await visit(siteId, { page: "/" });
		expect((await startWith(siteId, other.visitorState)).status).toBe(201);
	});

	it("reaches a room that has not heard of the ban, and a dispatcher that lost its state reads the bans from D1", async () => {
		const siteId = await createSite({
			routing: { mode: "manual", sticky: true },
		});
		const alice = await createAgent(siteId, "Alice");
		const visitor = await visit(siteId, { page: "/" });
		const chat = (await startWith(siteId, visitor.visitorState)).body;
		expect((await accept(siteId, chat.chatId, alice.token)).status).toBe(200);
		expect((await ban(siteId, visitor.visitorId, alice.token, {})).status).toBe(
			200
		);

		// Everything restarts; the dispatcher comes back with nothing.
		await loseDispatcher(siteId);
		expect(
			(await startWith(siteId, visitor.visitorState)).body.error?.type
		).toBe("banned");
		// The room (reloaded from storage, or rebuilt by the visitor) asks the dispatcher before the visitor's first send.
		const { body } = await poll(siteId, chat.chatId, chat.token, [0, 0]);
		if (body.code === 1)
			expect(
				(
					await rebuild(siteId, chat.chatId, chat.token, {
						chatState: chat.chatState,
						visitorDataOffset: 0,
						agentDataOffset: 0,
						messages: [],
					})
				).status
			).toBe(200);
		const offsets = (await poll(siteId, chat.chatId, chat.token, [0, 0])).body;
		const refused = await send(
			siteId,
			chat.chatId,
			chat.token,
			[offsets.visitorDataOffset, offsets.agentDataOffset],
			"hello?"
		);
		expect(refused.status).toBe(403);
		expect(refused.body.error?.type).toBe("banned");
	});
});
