/** Malformed queue messages are dead-lettered with a reason at once; bad bodies publish nothing. */
import { env } from "cloudflare:test";
import { expect, it, vi } from "vitest";
import { api, createAgent, createSite, startChat } from "../helpers.ts";
import {
	countOf,
	deliverOnce,
	deliveryQueues,
	deliveryState,
	postJson,
	queuesDrained,
	rowOf,
	storedRating,
	waitFor,
} from "../queue-helpers.ts";

const lettersWith = async (marker: string) =>
	(
		await env.DB.prepare(
			`SELECT queue, reason FROM dead_letters WHERE body LIKE ? ORDER BY id`
		)
			.bind(`%${marker}%`)
			.all<{ queue: string; reason: string }>()
	).results;

it(
	"dead-letters malformed messages on the first attempt, with the reason logged and recorded",
	{ timeout: 30_000 },
	async () => {
		const siteId = await createSite({
			integrations: {
				webhook: {
					enabled: true,
					url: "http://127.0.0.1:9/hook",
					secret: "webhook-secret-0123456789",
				},
			},
		});
		const marker = crypto.randomUUID();
		const envelope = (name: string, payload: unknown) => ({
			uniqueId: `${name}:${marker}`,
			name,
			siteId,
			payload,
			publishedAt: Date.now(),
		});
		const cases = [
			{
				queue: "chat-end",
				body: { hello: marker },
				reason: "malformed envelope",
			},
			{
				queue: "chat-end",
				body: `just text ${marker}`,
				reason: "malformed envelope",
			},
			{
				queue: "chat-end",
				body: envelope("chat.end", { id: marker }),
				reason: "malformed chat.end payload",
			},
			{
				queue: "log-events",
				body: envelope("no.such.event", {}),
				reason: "unknown event no.such.event",
			},
			{
				queue: "deliver-webhook",
				body: envelope("chat.end.salesforce", {}),
				reason: "does not belong on deliver-webhook",
			},
			{
				queue: "deliver-webhook",
				body: envelope("visitor.rating.webhook", {}),
				reason: "does not belong on deliver-webhook",
			},
			// Older than the few minutes a new site's configuration may take to show everywhere.
			{
				queue: "deliver-webhook",
				body: {
					...envelope("agent.wrapup.webhook", {}),
					siteId: "no-such-site",
					publishedAt: Date.now() - 10 * 60_000,
				},
				reason: "site no-such-site has no configuration",
			},
		];
		const logged = vi.spyOn(console, "error").mockImplementation(() => {});
		for (const [i, c] of cases.entries()) {
			const { result } = await deliverOnce(c.queue, c.body, `m${i}`);
			// Acked (so never retried), after going to the dead-letter queue.
			expect(result, c.reason).toMatchObject({
				explicitAcks: [`m${i}`],
				retryMessages: [],
				retryBatch: { retry: false },
			});
			expect(
				logged.mock.calls.some((call) => String(call[0]).includes(c.reason)),
				`logged: ${c.reason}`
			).toBe(true);
		}
		// A young message for a site whose configuration is not visible yet waits for it instead.
		const young = await deliverOnce(
			"log-events",
			{
				...envelope("visit.log", { page: "/" }),
				siteId: "site-not-yet-visible",
			},
			"young"
		);
		expect(young.result).toMatchObject({
			explicitAcks: [],
			retryMessages: [{ msgId: "young" }],
		});
		expect(young.asked).toEqual([{ delaySeconds: 60 }]);
		logged.mockRestore();
		const letters = await waitFor("every dead letter", async () => {
			const found = await lettersWith(marker);
			return found.length === cases.length && found;
		});
		expect(
			letters.map((l) => [
				l.queue,
				l.reason.includes(cases[letters.indexOf(l)]!.reason),
			])
		).toEqual(cases.map((c) => [c.queue, true]));
	}
);

it(
	"answers 400 to bad offline-message and rating bodies and publishes nothing",
	{ timeout: 30_000 },
	async () => {
		const siteId = await createSite();
		const chat = await startChat(siteId);
		const { token: agentToken } = await createAgent(siteId);
		const badOffline = [
			"not json",
			{},
			{ email: "olga@example.com" },
			{ email: "not-an-email", message: "hi" },
			{ email: "olga@example.com", message: "   " },
			{ email: "olga@example.com", message: "hi", extra: true },
			{ email: "olga@example.com", message: "hi", id: "not-a-uuid" },
			{ email: "olga@example.com", message: "x".repeat(4001) },
		];
		for (const body of badOffline) {
			const res = await postJson(`/sites/${siteId}/offline-messages`, body);
			expect(res.status, JSON.stringify(body).slice(0, 60)).toBe(400);
			expect(await res.json()).toMatchObject({
				code: -1,
				error: { type: "invalid_request" },
			});
		}
		expect(
			(
				await postJson(`/sites/no-such-site/offline-messages`, {
					email: "olga@example.com",
					message: "hi",
				})
			).status
		).toBe(404);
		const rating = `/sites/${siteId}/chats/${chat.chatId}/rating`;
		for (const body of [
			"{",
			{},
			{ rating: 0 },
			{ rating: 6 },
			{ rating: 4.5 },
			{ rating: "5" },
			{ rating: 5, stars: 5 },
		]) {
			const res = await postJson(rating, body, chat.token);
			expect(res.status, JSON.stringify(body)).toBe(400);
		}
		expect((await postJson(rating, { rating: 5 })).status).toBe(401);
		expect((await postJson(rating, { rating: 5 }, agentToken)).status).toBe(
			403
		);

		// Then good ones: once they are stored, anything published before them would have been too.
		const ok = await postJson(`/sites/${siteId}/offline-messages`, {
			email: "olga@example.com",
			message: "the real one",
		});
		expect(ok.status).toBe(202);
		// A visitor changing their mind and back: every rating counts, the latest is kept.
		const ids: string[] = [];
		for (const stars of [4, 3, 4]) {
			const res = await postJson(
				rating,
				{ rating: stars, comment: stars === 4 ? "quick answers" : "slow" },
				chat.token
			);
			expect(res.status).toBe(202);
			ids.push((await res.json<{ id: string }>()).id);
			await new Promise((r) => setTimeout(r, 5));
		}
		for (const id of ids)
			await waitFor(
				`rating ${id}`,
				async () =>
					(await deliveryState(`visitor.rating.persistence:${id}`))?.state ===
					"done"
			);
		await waitFor("the good offline message", () =>
			rowOf(`SELECT 1 AS x FROM offline_messages WHERE site_id = ?`, siteId)
		);
		await queuesDrained(env.Q_OFFLINE_MESSAGE, env.Q_CHAT_END);
		await queuesDrained(...deliveryQueues());
		expect(
			(
				await env.DB.prepare(
					`SELECT message FROM offline_messages WHERE site_id = ?`
				)
					.bind(siteId)
					.all()
			).results
		).toEqual([{ message: "the real one" }]);
		expect(await storedRating(chat.chatId)).toEqual({
			rating: 4,
			comment: "quick answers",
		});
		expect(
			await countOf(
				`SELECT COUNT(*) AS n FROM dead_letters WHERE site_id = ?`,
				siteId
			)
		).toBe(0);
	}
);

it(
	"limits offline messages per address and site, and ratings per chat: 429, nothing published",
	{ timeout: 30_000 },
	async () => {
		const siteId = await createSite();
		const from = (ip: string, n: number) =>
			api(`/sites/${siteId}/offline-messages`, {
				method: "POST",
				headers: { "CF-Connecting-IP": ip },
				body: JSON.stringify({
					email: "s@example.com",
					message: `note ${ip} ${n}`,
				}),
			});
		const statuses: number[] = [];
		for (let n = 1; n <= 6; n++)
			statuses.push((await from("203.0.113.7", n)).status);
		expect(statuses).toEqual([202, 202, 202, 202, 202, 429]);
		const limited = await from("203.0.113.7", 7);
		expect(await limited.json()).toMatchObject({
			code: -1,
			error: { type: "rate_limited" },
		});
		// Another address is not held back by the first one.
		expect((await from("198.51.100.1", 1)).status).toBe(202);

		const chat = await startChat(siteId);
		const rating = `/sites/${siteId}/chats/${chat.chatId}/rating`;
		const ratings: number[] = [];
		for (let n = 1; n <= 11; n++)
			ratings.push((await postJson(rating, { rating: 5 }, chat.token)).status);
		expect(ratings).toEqual([...Array(10).fill(202), 429]);

		await waitFor(
			"the accepted offline messages",
			async () =>
				(await countOf(
					`SELECT COUNT(*) AS n FROM offline_messages WHERE site_id = ?`,
					siteId
				)) === 6
		);
		await queuesDrained(env.Q_OFFLINE_MESSAGE);
		await queuesDrained(env.Q_PERSISTENCE);
		expect(
			await countOf(
				`SELECT COUNT(*) AS n FROM offline_messages WHERE site_id = ?`,
				siteId
			)
		).toBe(6);
	}
);
