/** SPEC §4, §7: visitor tracking, the page socket, invitations and bans, through the real Worker and Durable Objects. */
import {
	abortAllDurableObjects,
	env,
	runDurableObjectAlarm,
	runInDurableObject,
} from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { siteDispatcher } from "../durable-objects/room-contract.ts";
import { FrameSocket } from "./frame-socket.ts";
import {
	accept,
	api,
	createAgent,
	createSite,
	eventually,
	json,
	poll,
	rebuild,
	send,
} from "./helpers.ts";
import type { StartChatResult } from "../src/protocol/chat.ts";
import type {
	VisitorServerFrame,
	VisitorSummary,
	VisitResult,
} from "../src/protocol/visitors.ts";

const dispatcherOf = (siteId: string) => siteDispatcher(env, siteId);

async function visit(
	siteId: string,
	body: Record<string, unknown>
): Promise<VisitResult> {
	const res = await api(`/sites/${siteId}/visits`, {
		method: "POST",
		body: json(body),
	});
	expect(res.status).toBe(200);
	return res.json<VisitResult>();
}

async function trackedList(
	siteId: string,
	token: string
): Promise<VisitorSummary[]> {
	const res = await api(`/sites/${siteId}/visitors`, { token });
	expect(res.status).toBe(200);
	return (await res.json<{ visitors: VisitorSummary[] }>()).visitors;
}

/** A visitor's page socket after a hello that was taken. */
async function pageSocket(
	siteId: string,
	visitorState: string,
	page?: Record<string, string>
) {
	const socket = await FrameSocket.open<VisitorServerFrame>(
		`/sites/${siteId}/visitors/me/ws`
	);
	socket.send({ type: "hello", visitorState, ...page });
	await socket.next((f) => f.type === "tracking");
	return socket;
}

async function startWith(siteId: string, visitorState: string) {
	const res = await api(`/sites/${siteId}/chats`, {
		method: "POST",
		body: json({ visitor: { name: "Vera" }, visitorState }),
	});
	return {
		status: res.status,
		body: await res.json<StartChatResult & { error?: { type: string } }>(),
	};
}

const invite = (
	siteId: string,
	visitorId: string,
	token: string,
	body: unknown
) =>
	api(`/sites/${siteId}/visitors/${visitorId}/invite`, {
		method: "POST",
		token,
		body: typeof body === "string" ? body : json(body),
	});

const ban = (siteId: string, visitorId: string, token: string, body: unknown) =>
	api(`/sites/${siteId}/visitors/${visitorId}/ban`, {
		method: "POST",
		token,
		body: typeof body === "string" ? body : json(body),
	});

/** The dispatcher forgets everything: memory mode by eviction, durable mode by losing its storage too. */
async function loseDispatcher(siteId: string): Promise<void> {
	if (env.CHAT_STATE === "durable")
		await runInDurableObject(dispatcherOf(siteId), (_instance, state) =>
			state.storage.deleteAll()
		);
	await abortAllDurableObjects();
}

describe("visitor tracking", () => {
	it("tracks each page view: the same visitor on its next page, listed for agents with page, title, referrer, time on site and chatting", async () => {
		const siteId = await createSite({
			routing: { mode: "manual", sticky: true },
		});
		const alice = await createAgent(siteId, "Alice");
		const first = await visit(siteId, {
			page: "https://shop.example/",
			title: "Shop",
			referrer: "https://search.example/?q=shoes",
		});
		expect(first.tracked).toBe(true);
		const second = await visit(siteId, {
			visitorState: first.visitorState,
			page: "https://shop.example/shoes",
			title: "Shoes",
		});
		expect(second.visitorId).toBe(first.visitorId);
		const [seen, ...others] = await trackedList(siteId, alice.token);
		expect(others).toEqual([]);
		expect(seen).toMatchObject({
			visitorId: first.visitorId,
			page: "https://shop.example/shoes",
			title: "Shoes",
			chatting: false,
			connected: false,
			banned: false,
		});
		// The visitor came with the first page's referrer and has been on the site since then.
		expect(seen!.referrer).toBeUndefined();
		expect(seen!.timeOnSite).toBeGreaterThanOrEqual(0);
		expect(seen!.lastSeen).toBeGreaterThanOrEqual(seen!.firstSeen);
		expect(seen!.timeOnSite).toBeGreaterThanOrEqual(
			seen!.lastSeen - seen!.firstSeen
		);

		// Its chat starts with the visitorState it kept: the list shows it chatting.
		const chat = await startWith(siteId, second.visitorState);
		expect(chat.status).toBe(201);
		expect(chat.body.visitorId).toBe(first.visitorId);
		expect(
			(
				await eventually(
					() => trackedList(siteId, alice.token),
					(l) => l[0]?.chatting === true
				)
			)[0]?.chatting
		).toBe(true);

		// Only agents see the list.
		expect(
			(await api(`/sites/${siteId}/visitors`, { token: chat.body.token }))
				.status
		).toBe(403);
		expect((await api(`/sites/${siteId}/visitors`)).status).toBe(401);
	});

	it("refuses bad visits with their 4xx and tracks nothing", async () => {
		const siteId = await createSite();
		const alice = await createAgent(siteId, "Alice");
		const post = (body: string, site = siteId) =>
			api(`/sites/${site}/visits`, { method: "POST", body });
		expect((await post(json({}))).status).toBe(400);
		expect((await post(json({ page: "" }))).status).toBe(400);
		expect((await post(json({ page: "x".repeat(2001) }))).status).toBe(400);
		expect((await post(json({ page: "/a", color: "red" }))).status).toBe(400);
		expect((await post(json({ page: 7 }))).status).toBe(400);
		expect((await post("{not json")).status).toBe(400);
		expect((await post(json({ page: "/a", title: "\ud800" }))).status).toBe(
			400
		);
		const forged = await post(
			json({ page: "/a", visitorState: "forged.state" })
		);
		expect(forged.status).toBe(403);
		expect((await forged.json<{ error: { type: string } }>()).error.type).toBe(
			"invalid_visitor_state"
		);
		expect((await post(json({ page: "/a" }), "no-such-site")).status).toBe(404);
		expect(await trackedList(siteId, alice.token)).toEqual([]);
	});

	it("keeps at most maxTrackedVisitors, oldest out first; a visitor off the list keeps every chat function", async () => {
		const siteId = await createSite({
			routing: { mode: "manual", sticky: true },
			limits: { maxTrackedVisitors: 2 },
		});
		const alice = await createAgent(siteId, "Alice");
		const a = await visit(siteId, { page: "/a" });
		const b = await visit(siteId, { page: "/b" });
		const bPage = await pageSocket(siteId, b.visitorState);
		const c = await visit(siteId, { page: "/c" });
		expect(c.tracked).toBe(true);
		expect(
			(await trackedList(siteId, alice.token)).map((v) => v.visitorId)
		).toEqual([c.visitorId, b.visitorId]);
		// A comes back: it is the newest now, and B, the oldest, goes (its page socket with it).
		expect(
			(await visit(siteId, { visitorState: a.visitorState, page: "/a2" }))
				.tracked
		).toBe(true);
		expect(
			(await trackedList(siteId, alice.token)).map((v) => v.visitorId)
		).toEqual([a.visitorId, c.visitorId]);
		expect(await bPage.closed()).toBe(1000);
		// B is off the list: it still chats.
		const chat = await startWith(siteId, b.visitorState);
		expect(chat.status).toBe(201);
		expect((await accept(siteId, chat.body.chatId, alice.token)).status).toBe(
			200
		);
		expect(
			(
				await send(
					siteId,
					chat.body.chatId,
					chat.body.token,
					[0, 1],
					"still here"
				)
			).status
		).toBe(200);

		// A site that tracks nobody: visits answer tracked false and nothing is listed.
		const untracked = await createSite({ limits: { maxTrackedVisitors: 0 } });
		const bob = await createAgent(untracked, "Bob");
		const none = await visit(untracked, { page: "/" });
		expect(none).toMatchObject({
			tracked: false,
			visitorId: expect.any(String),
			visitorState: expect.any(String),
		});
		expect(await trackedList(untracked, bob.token)).toEqual([]);
	});

	it("a page socket says hello with the visitorState, gets invitations, and answers bad frames without closing", async () => {
		const siteId = await createSite();
		const alice = await createAgent(siteId, "Alice");
		const visitor = await visit(siteId, { page: "/pricing", title: "Pricing" });
		const page = await pageSocket(siteId, visitor.visitorState);
		expect((await trackedList(siteId, alice.token))[0]).toMatchObject({
			visitorId: visitor.visitorId,
			connected: true,
		});

		page.send("{oops");
		expect(await page.next((f) => f.type === "error")).toMatchObject({
			error: { type: "invalid_request" },
		});
		page.send({ type: "hello", visitorState: visitor.visitorState });
		expect((await page.next((f) => f.type === "error")).type).toBe("error");

		const invited = await invite(siteId, visitor.visitorId, alice.token, {
			message: "Can I help you choose a plan?",
		});
		expect(invited.status).toBe(200);
		expect(await invited.json()).toEqual({ code: 0, delivered: 1 });
		expect(await page.next((f) => f.type === "invitation")).toEqual({
			type: "invitation",
			agentName: "Alice",
			message: "Can I help you choose a plan?",
		});

		// Bad invitations: 4xx, and nothing reaches the page.
		expect(
			(await invite(siteId, visitor.visitorId, alice.token, {})).status
		).toBe(400);
		expect(
			(await invite(siteId, visitor.visitorId, alice.token, { message: "   " }))
				.status
		).toBe(400);
		expect(
			(
				await invite(siteId, visitor.visitorId, alice.token, {
					message: "x".repeat(1001),
				})
			).status
		).toBe(400);
		expect(
			(
				await invite(siteId, visitor.visitorId, alice.token, {
					message: "hi",
					urgent: true,
				})
			).status
		).toBe(400);
		expect(
			(
				await invite(siteId, crypto.randomUUID(), alice.token, {
					message: "hi",
				})
			).status
		).toBe(404);
		const chat = await startWith(siteId, visitor.visitorState);
		expect(
			(
				await invite(siteId, visitor.visitorId, chat.body.token, {
					message: "hi",
				})
			).status
		).toBe(403);
		// Tracked, but its page is gone: 409.
		const away = await visit(siteId, { page: "/" });
		expect(
			(await invite(siteId, away.visitorId, alice.token, { message: "hi" }))
				.status
		).toBe(409);
		await new Promise((resolve) => setTimeout(resolve, 100));
		expect(page.frames).toEqual([]);
		expect(page.closedWith).toBeUndefined();
	});

	it("closes page sockets whose hello does not open (4401) or does not come in 10 s (4408)", async () => {
		const siteId = await createSite();
		const forged = await FrameSocket.open<VisitorServerFrame>(
			`/sites/${siteId}/visitors/me/ws`
		);
		forged.send({ type: "hello", visitorState: "forged.state" });
		expect(await forged.closed()).toBe(4401);
		const wrongShape = await FrameSocket.open<VisitorServerFrame>(
			`/sites/${siteId}/visitors/me/ws`
		);
		wrongShape.send({ type: "hello", token: "x" });
		expect(await wrongShape.closed()).toBe(4401);

		const silent = await FrameSocket.open<VisitorServerFrame>(
			`/sites/${siteId}/visitors/me/ws`
		);
		await runInDurableObject(dispatcherOf(siteId), (_instance, state) => {
			for (const ws of state.getWebSockets("visitor")) {
				const attachment = ws.deserializeAttachment() as {
					connectedAt: number;
				};
				ws.serializeAttachment({
					...attachment,
					connectedAt: attachment.connectedAt - 11_000,
				});
			}
		});
		await runDurableObjectAlarm(dispatcherOf(siteId));
		expect(await silent.closed()).toBe(4408);
		expect(
			(
				await api(`/sites/no-such-site/visitors/me/ws`, {
					headers: { Upgrade: "websocket" },
				})
			).status
		).toBe(404);
		expect((await api(`/sites/${siteId}/visitors/me/ws`)).status).toBe(426);
	});

	it("gets its list back from the page sockets when the dispatcher lost its state", async () => {
		const siteId = await createSite();
		const alice = await createAgent(siteId, "Alice");
		const visitor = await visit(siteId, { page: "/docs", title: "Docs" });
		await loseDispatcher(siteId);
		expect(await trackedList(siteId, alice.token)).toEqual([]);
		// The page reconnects and re-announces its visit in its hello.
		const page = await pageSocket(siteId, visitor.visitorState, {
			page: "/docs",
			title: "Docs",
		});
		expect(
			(await trackedList(siteId, alice.token)).map((v) => [
				v.visitorId,
				v.page,
				v.title,
				v.connected,
			])
		).toEqual([[visitor.visitorId, "/docs", "Docs", true]]);
		expect(
			(
				await invite(siteId, visitor.visitorId, alice.token, {
					message: "Welcome back",
				})
			).status
		).toBe(200);
		expect((await page.next((f) => f.type === "invitation")).type).toBe(
			"invitation"
		);
	});
});

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
