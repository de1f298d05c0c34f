/**
 * Every log event of SPEC §8 from its producer to D1 (`event_log`, written by persistence): the visitor
 * page's, the agents' side tools', the canned messages' and the dispatcher's. Bad input publishes nothing.
 */
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { LiveChatClient } from "../../client/index.ts";
import { fetchVia } from "../client-helpers.ts";
import { FrameSocket } from "../frame-socket.ts";
import {
	accept,
	api,
	BASE,
	createAgent,
	createSite,
	json,
	poll,
	startChat,
} from "../helpers.ts";
import { waitFor } from "../queue-helpers.ts";
import { TestSocket } from "../sockets.ts";
import type { AgentServerFrame } from "../../src/protocol/dispatch.ts";
import type { EventName } from "../../src/protocol/events.ts";
import type {
	VisitorServerFrame,
	VisitResult,
} from "../../src/protocol/visitors.ts";

type Logged = Record<string, unknown> & { siteId: string };

/** The site's events of this name in D1, once `count` have arrived; then a moment more, so that an extra one would show. */
async function logged(
	siteId: string,
	name: EventName,
	count: number
): Promise<Logged[]> {
	const read = async () =>
		(
			await env.DB.prepare(
				`SELECT payload FROM event_log WHERE site_id = ? AND name = ? ORDER BY published_at, unique_id`
			)
				.bind(siteId, name)
				.all<{ payload: string }>()
		).results.map((row) => JSON.parse(row.payload) as Logged);
	await waitFor(
		`${count} ${name} of ${siteId}`,
		async () => (await read()).length >= count
	);
	await new Promise((resolve) => setTimeout(resolve, 300));
	return read();
}

const post = (path: string, body: unknown, token?: string) =>
	api(path, {
		method: "POST",
		token,
		body: typeof body === "string" ? body : json(body),
	});

async function visit(
	siteId: string,
	body: Record<string, unknown>
): Promise<VisitResult> {
	const res = await post(`/sites/${siteId}/visits`, body);
	expect(res.status).toBe(200);
	return res.json<VisitResult>();
}

describe("log events reach D1", { timeout: 30_000 }, () => {
	it("visit.log for each page view and conversion.log for a conversion", async () => {
		const siteId = await createSite();
		expect((await post(`/sites/${siteId}/visits`, { page: "" })).status).toBe(
			400
		);
		const first = await visit(siteId, {
			page: "https://shop.example/",
			referrer: "https://search.example/",
		});
		await visit(siteId, {
			visitorState: first.visitorState,
			page: "https://shop.example/cart",
			title: "Cart",
		});

		const conversions = `/sites/${siteId}/conversions`;
		expect((await post(conversions, { name: "purchase" })).status).toBe(400);
		expect(
			(await post(conversions, { visitorState: first.visitorState, name: "" }))
				.status
		).toBe(400);
		expect(
			(
				await post(conversions, {
					visitorState: first.visitorState,
					name: "purchase",
					value: "12",
				})
			).status
		).toBe(400);
		expect(
			(
				await post(conversions, {
					visitorState: first.visitorState,
					name: "purchase",
					currency: "EUR",
				})
			).status
		).toBe(400);
		expect(
			(
				await post(conversions, {
					visitorState: "forged.state",
					name: "purchase",
				})
			).status
		).toBe(403);
		expect(
			(
				await post(`/sites/no-such-site/conversions`, {
					visitorState: first.visitorState,
					name: "purchase",
				})
			).status
		).toBe(404);
		const converted = await post(conversions, {
			visitorState: first.visitorState,
			name: "purchase",
			value: 49.9,
		});
		expect(converted.status).toBe(202);

		const visits = (await logged(siteId, "visit.log", 2)).sort((a, b) =>
			String(a.page).localeCompare(String(b.page))
		);
		expect(visits).toEqual([
			{
				siteId,
				visitorId: first.visitorId,
				page: "https://shop.example/",
				title: null,
				referrer: "https://search.example/",
				tracked: true,
				at: expect.any(Number),
			},
			{
				siteId,
				visitorId: first.visitorId,
				page: "https://shop.example/cart",
				title: "Cart",
				referrer: null,
				tracked: true,
				at: expect.any(Number),
			},
		]);
		expect(await logged(siteId, "conversion.log", 1)).toEqual([
			{
				siteId,
				visitorId: first.visitorId,
				name: "purchase",
				value: 49.9,
				at: expect.any(Number),
			},
		]);
	});

	it("invitation.log for an invitation, agent.ban for a ban", async () => {
		const siteId = await createSite();
		const alice = await createAgent(siteId, "Alice");
		const visitor = await visit(siteId, { page: "/" });
		const page = await FrameSocket.open<VisitorServerFrame>(
			`/sites/${siteId}/visitors/me/ws`
		);
		page.send({ type: "hello", visitorState: visitor.visitorState });
		await page.next((f) => f.type === "tracking");
		const visitorPath = `/sites/${siteId}/visitors/${visitor.visitorId}`;

		expect(
			(await post(`${visitorPath}/invite`, { message: "" }, alice.token)).status
		).toBe(400);
		expect(
			(
				await post(
					`${visitorPath}/invite`,
					{ message: "Need a hand?" },
					alice.token
				)
			).status
		).toBe(200);
		expect(
			(await post(`${visitorPath}/ban`, { minutes: -1 }, alice.token)).status
		).toBe(400);
		expect(
			(
				await post(
					`${visitorPath}/ban`,
					{ reason: "spam", minutes: 30 },
					alice.token
				)
			).status
		).toBe(200);

		expect(await logged(siteId, "invitation.log", 1)).toEqual([
			{
				siteId,
				agentId: alice.agentId,
				agentName: "Alice",
				visitorId: visitor.visitorId,
				message: "Need a hand?",
				delivered: 1,
				at: expect.any(Number),
			},
		]);
		expect(await logged(siteId, "agent.ban", 1)).toEqual([
			{
				siteId,
				agentId: alice.agentId,
				visitorId: visitor.visitorId,
				reason: "spam",
				until: expect.any(Number),
				at: expect.any(Number),
			},
		]);
	});

	it("agent.savePreference for saved preferences, privateMessage.log for a private message pushed to the other agent's console", async () => {
		const siteId = await createSite();
		const alice = await createAgent(siteId, "Alice");
		const bob = await createAgent(siteId, "Bob");
		const visitor = await startChat(siteId);
		const preferences = `/sites/${siteId}/agents/me/preferences`;
		const put = (body: unknown, token = alice.token) =>
			api(preferences, { method: "PUT", token, body: json(body) });
		for (const bad of [
			{},
			{ sound: "loud" },
			{ theme: { dark: true } },
			{ "bad name": 1 },
			{ list: [1] },
		])
			expect((await put(bad)).status).toBe(400);
		expect((await put({ sound: true }, visitor.token)).status).toBe(403);
		const saved = await put({
			sound: false,
			notifications: true,
			theme: "dark",
		});
		expect(saved.status).toBe(202);
		expect(await saved.json()).toMatchObject({
			code: 0,
			preferences: { sound: false, notifications: true, theme: "dark" },
		});

		const bobConsole = await FrameSocket.open<AgentServerFrame>(
			`/sites/${siteId}/agents/me/ws`
		);
		bobConsole.send({
			type: "hello",
			token: bob.token,
			status: "online",
			chats: [],
		});
		await bobConsole.next((f) => f.type === "queue");
		const toBob = `/sites/${siteId}/agents/${bob.agentId}/messages`;
		expect((await post(toBob, {}, alice.token)).status).toBe(400);
		expect(
			(await post(toBob, { content: "x".repeat(4001) }, alice.token)).status
		).toBe(413);
		expect(
			(await post(toBob, { content: "hi", urgent: true }, alice.token)).status
		).toBe(400);
		expect(
			(
				await post(
					`/sites/${siteId}/agents/${alice.agentId}/messages`,
					{ content: "me" },
					alice.token
				)
			).status
		).toBe(400);
		expect(
			(
				await post(
					`/sites/${siteId}/agents/nobody/messages`,
					{ content: "hi" },
					alice.token
				)
			).status
		).toBe(404);
		expect((await post(toBob, { content: "hi" }, visitor.token)).status).toBe(
			403
		);
		const sent = await post(
			toBob,
			{ content: "Can you take the next French chat?" },
			alice.token
		);
		expect(sent.status).toBe(200);
		expect(await sent.json()).toEqual({ code: 0, delivered: 1 });
		expect(await bobConsole.next((f) => f.type === "private")).toEqual({
			type: "private",
			from: alice.agentId,
			message: "Can you take the next French chat?",
		});

		expect(await logged(siteId, "agent.savePreference", 1)).toEqual([
			{
				siteId,
				agentId: alice.agentId,
				preferences: { sound: false, notifications: true, theme: "dark" },
				at: expect.any(Number),
			},
		]);
		expect(await logged(siteId, "privateMessage.log", 1)).toEqual([
			{
				siteId,
				fromAgentId: alice.agentId,
				fromName: "Alice",
				toAgentId: bob.agentId,
				message: "Can you take the next French chat?",
				delivered: 1,
				at: expect.any(Number),
			},
		]);
		expect(bobConsole.frames.filter((f) => f.type === "private")).toEqual([]);
	});

	it("cannedMessage.useLog once per canned message an agent sends, over HTTP or a socket; not for a visitor or a refused send", async () => {
		const siteId = await createSite({
			routing: { mode: "manual", sticky: false },
		});
		const chat = await startChat(siteId);
		const alice = await createAgent(siteId, "Alice");
		expect((await accept(siteId, chat.chatId, alice.token)).status).toBe(200);
		const messages = `/sites/${siteId}/chats/${chat.chatId}/messages`;
		const id = crypto.randomUUID();
		const cannedSend = (body: Record<string, unknown>, token = alice.token) =>
			api(messages, {
				method: "POST",
				token,
				offsets: [0, 1],
				body: json(body),
			});

		expect(
			(
				await cannedSend({
					id: crypto.randomUUID(),
					content: "Hello! How can I help?",
					canned: "",
				})
			).status
		).toBe(400);
		expect(
			(
				await cannedSend({
					id: crypto.randomUUID(),
					content: "Hello! How can I help?",
					canned: "x".repeat(101),
				})
			).status
		).toBe(400);
		expect(
			(await poll(siteId, chat.chatId, alice.token, [0, 1])).body.messages
		).toEqual([]);
		expect(
			(
				await cannedSend({
					id,
					content: "Hello! How can I help?",
					canned: "hello",
				})
			).status
		).toBe(200);
		// A retry of the same message is the same message, and the same use.
		expect(
			(
				await cannedSend({
					id,
					content: "Hello! How can I help?",
					canned: "hello",
				})
			).status
		).toBe(200);
		expect(
			(
				await cannedSend(
					{
						id: crypto.randomUUID(),
						content: "I am a visitor",
						canned: "hello",
					},
					chat.token
				)
			).status
		).toBe(200);

		const socket = await TestSocket.hello(
			siteId,
			chat.chatId,
			alice.token,
			[1, 2]
		);
		const socketId = crypto.randomUUID();
		socket.send({
			type: "send",
			message: { id: socketId, content: "Anything else?", canned: "more" },
		});
		await socket.next((f) => f.type === "ack");

		const uses = (await logged(siteId, "cannedMessage.useLog", 2)).sort(
			(a, b) => String(a.shortcut).localeCompare(String(b.shortcut))
		);
		expect(
			uses.map(({ messageId, shortcut, agentId, chatId }) => ({
				messageId,
				shortcut,
				agentId,
				chatId,
			}))
		).toEqual([
			{
				messageId: id,
				shortcut: "hello",
				agentId: alice.agentId,
				chatId: chat.chatId,
			},
			{
				messageId: socketId,
				shortcut: "more",
				agentId: alice.agentId,
				chatId: chat.chatId,
			},
		]);
	});

	it("cannedMessage.useLog from the SDK: LiveChatClient.send with a shortcut goes through the outbox and is logged once", async () => {
		const siteId = await createSite({
			routing: { mode: "manual", sticky: false },
		});
		const chat = await startChat(siteId);
		const alice = await createAgent(siteId, "Alice");
		expect((await accept(siteId, chat.chatId, alice.token)).status).toBe(200);
		const agent = new LiveChatClient({
			baseUrls: [BASE],
			siteId,
			chatId: chat.chatId,
			token: alice.token,
			fetch: fetchVia,
			openSocket: undefined,
		});
		const sent = await agent.send("Thanks for waiting!", undefined, "thanks");
		await agent.send("A plain message");
		const uses = await logged(siteId, "cannedMessage.useLog", 1);
		expect(
			uses.map(({ messageId, shortcut }) => ({ messageId, shortcut }))
		).toEqual([{ messageId: sent.id, shortcut: "thanks" }]);
	});

	it("chatQueue.log as a chat enters and leaves the queue (with its wait), agentStatus.log as an agent's status changes", async () => {
		const siteId = await createSite({
			routing: { mode: "auto", sticky: false },
		});
		const chat = await startChat(siteId);
		const alice = await createAgent(siteId, "Alice");
		await new Promise((resolve) => setTimeout(resolve, 50));
		expect(
			(
				await api(`/sites/${siteId}/agents/me/status`, {
					method: "PUT",
					token: alice.token,
					body: json({ status: "online" }),
				})
			).status
		).toBe(200);
		await waitFor(
			"the assignment",
			async () =>
				(await poll(siteId, chat.chatId, chat.token)).body.status === "chatting"
		);
		expect(
			(
				await api(`/sites/${siteId}/agents/me/status`, {
					method: "PUT",
					token: alice.token,
					body: json({ status: "away" }),
				})
			).status
		).toBe(200);

		const queue = await logged(siteId, "chatQueue.log", 2);
		expect(queue).toEqual([
			{
				siteId,
				chatId: chat.chatId,
				event: "enter",
				requestTime: expect.any(Number),
				at: expect.any(Number),
			},
			{
				siteId,
				chatId: chat.chatId,
				event: "leave",
				reason: "assigned",
				requestTime: expect.any(Number),
				waitMs: expect.any(Number),
				at: expect.any(Number),
			},
		]);
		expect(queue[1]!.waitMs).toBeGreaterThanOrEqual(50);
		const statuses = await logged(siteId, "agentStatus.log", 2);
		expect(
			statuses.map(({ agentId, name, status }) => ({ agentId, name, status }))
		).toEqual([
			{ agentId: alice.agentId, name: "Alice", status: "online" },
			{ agentId: alice.agentId, name: "Alice", status: "away" },
		]);
	});
});
