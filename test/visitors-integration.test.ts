/** SPEC §4, §7: visitor tracking, the page socket and invitations, through the real Worker and Durable Objects. */
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { dispatcherOf } from "./dispatch.ts";
import { FrameSocket } from "./frame-socket.ts";
import {
	accept,
	api,
	createAgent,
	createSite,
	eventually,
	json,
	send,
} from "./helpers.ts";
import {
	invite,
	loseDispatcher,
	pageSocket,
	startWith,
	trackedList,
	visit,
} from "./visitors.ts";
import type { VisitorServerFrame } from "../src/protocol/visitors.ts";

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
		expect(await page.settled()).toEqual([]);
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
