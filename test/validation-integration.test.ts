import { env } from "cloudflare:test";
import { sign } from "hono/jwt";
import { describe, expect, it } from "vitest";
import {
	api,
	createAgent,
	createSite,
	json,
	poll,
	rebuild,
	send,
	startChat,
} from "./helpers.ts";
import type { ChatMessage } from "../src/protocol/chat.ts";

async function chatWithOneMessage(config = {}) {
	const siteId = await createSite(config);
	const chat = await startChat(siteId);
	const first = await send(
		siteId,
		chat.chatId,
		chat.token,
		[0, 0],
		"the only message"
	);
	return { siteId, ...chat, first: first.body.messages[0]! };
}

/** Bad input changes nothing: the chat still holds exactly its one message. */
async function expectUnchanged(
	siteId: string,
	chatId: string,
	token: string,
	first: ChatMessage
) {
	const { body } = await poll(siteId, chatId, token);
	expect(body).toMatchObject({
		code: 0,
		visitorDataOffset: 1,
		agentDataOffset: 0,
	});
	expect(body.messages).toEqual([first]);
}

const messagesPath = (siteId: string, chatId: string) =>
	`/sites/${siteId}/chats/${chatId}/messages`;

describe("bad input gets a clear 4xx and changes nothing", () => {
	it("malformed JSON, wrong types, unknown fields, ids that are not lower-case UUIDs and ill-formed text are 400 invalid_request", async () => {
		const { siteId, chatId, token, first } = await chatWithOneMessage();
		const id = crypto.randomUUID();
		for (const body of [
			"{not json",
			json({ id: 42, content: "x" }),
			json({ id, content: "" }),
			json({ id, content: "x", type: 2 }),
			// Message ids are canonical lower-case UUIDs (SPEC §2).
			json({ id: "m1", content: "x" }),
			json({ id: id.toUpperCase(), content: "x" }),
			json({ id: `{${id}}`, content: "x" }),
			// Text must be well-formed Unicode: a lone surrogate is refused.
			json({ id, content: "half a pair \ud83d" }),
		]) {
			const res = await api(messagesPath(siteId, chatId), {
				method: "POST",
				token,
				offsets: [1, 0],
				body,
			});
			expect(res.status, body).toBe(400);
			expect(await res.json()).toMatchObject({
				code: -1,
				error: { type: "invalid_request" },
			});
		}
		const rebuildRes = await rebuild(siteId, chatId, token, "[1, 2");
		expect(rebuildRes.status).toBe(400);
		const badId = await rebuild(siteId, chatId, token, {
			visitorDataOffset: 1,
			agentDataOffset: 0,
			messages: [{ ...first, id: "v1-message" }],
		});
		expect(badId).toMatchObject({
			status: 400,
			body: { error: { type: "invalid_request" } },
		});
		await expectUnchanged(siteId, chatId, token, first);
	});

	it("negative, fractional or non-numeric offsets are 400", async () => {
		const { siteId, chatId, token, first } = await chatWithOneMessage();
		for (const value of ["-1", "1.5", "abc", "1e3", ""]) {
			const res = await api(messagesPath(siteId, chatId), {
				method: "POST",
				token,
				headers: { "X-Visitor-Data-Offset": value, "X-Agent-Data-Offset": "0" },
				body: json({ id: crypto.randomUUID(), content: "x" }),
			});
			expect(res.status, value).toBe(400);
			expect((await res.json<{ error: { type: string } }>()).error.type).toBe(
				"invalid_request"
			);
		}
		const negative = await rebuild(siteId, chatId, token, {
			visitorDataOffset: -1,
			agentDataOffset: 0,
			messages: [],
		});
		expect(negative.status).toBe(400);
		const negativeMessage = await rebuild(siteId, chatId, token, {
			visitorDataOffset: 1,
			agentDataOffset: 0,
			messages: [{ ...first, dataOffset: -2 }],
		});
		expect(negativeMessage.status).toBe(400);
		await expectUnchanged(siteId, chatId, token, first);
	});

	it("content over 4,000 characters, or over the site's lower limit, is 413", async () => {
		const { siteId, chatId, token, first } = await chatWithOneMessage({
			limits: { maxMessageLength: 100 },
		});
		for (const content of ["x".repeat(4001), "y".repeat(101)]) {
			const res = await send(siteId, chatId, token, [1, 0], content);
			expect(res.status).toBe(413);
			expect(res.body.error?.type).toBe("payload_too_large");
		}
		const huge = await api(messagesPath(siteId, chatId), {
			method: "POST",
			token,
			offsets: [1, 0],
			body: json({ id: crypto.randomUUID(), content: "z".repeat(100_000) }),
		});
		expect(huge.status).toBe(413);
		const inRebuild = await rebuild(siteId, chatId, token, {
			visitorDataOffset: 1,
			agentDataOffset: 0,
			messages: [{ ...first, content: "w".repeat(4001) }],
		});
		expect(inRebuild.status).toBe(413);
		await expectUnchanged(siteId, chatId, token, first);
	});

	it("more than 500 messages in one rebuild is 400", async () => {
		const { siteId, chatId, token, first } = await chatWithOneMessage();
		const messages = Array.from({ length: 501 }, (_, i) => ({
			...first,
			id: crypto.randomUUID(),
			dataOffset: i + 1,
		}));
		const res = await rebuild(siteId, chatId, token, {
			visitorDataOffset: 501,
			agentDataOffset: 0,
			messages,
		});
		expect(res.status).toBe(400);
		expect(res.body.error?.type).toBe("invalid_request");
		await expectUnchanged(siteId, chatId, token, first);
	});

	it("a visitor token for another chat or site, an expired token or none at all is refused", async () => {
		const { siteId, chatId, token, first } = await chatWithOneMessage();
		const otherChat = await startChat(siteId);
		const otherSite = await createSite();
		const otherSiteChat = await startChat(otherSite);
		const otherSiteAgent = await createAgent(otherSite);
		const expired = await sign(
			{
				sub: "v",
				sid: siteId,
				cid: chatId,
				role: "visitor",
				exp: Math.floor(Date.now() / 1000) - 60,
			},
			env.TOKEN_SECRET,
			"HS256"
		);
		const forged = await sign(
			{
				sub: "v",
				sid: siteId,
				cid: chatId,
				role: "visitor",
				exp: Math.floor(Date.now() / 1000) + 60,
			},
			"not-the-secret",
			"HS256"
		);
		const cases: [string | undefined, number][] = [
			[otherChat.token, 403],
			[otherSiteChat.token, 403],
			[otherSiteAgent.token, 403],
			[expired, 401],
			[forged, 401],
			["garbage", 401],
			[undefined, 401],
		];
		for (const [badToken, status] of cases) {
			const res = await send(
				siteId,
				chatId,
				badToken as string,
				[1, 0],
				"should not land"
			);
			expect(res.status).toBe(status);
			expect(res.body.error?.type).toBe(
				status === 401 ? "unauthorized" : "forbidden"
			);
			expect((await poll(siteId, chatId, badToken as string)).status).toBe(
				status
			);
		}
		await expectUnchanged(siteId, chatId, token, first);
	});

	it("a visitor of another chat cannot replay a valid message into it", async () => {
		const { siteId, chatId, token, first } = await chatWithOneMessage();
		const other = await startChat(siteId);
		const res = await rebuild(siteId, other.chatId, other.token, {
			chatState: other.chatState,
			visitorDataOffset: 1,
			agentDataOffset: 0,
			messages: [first],
		});
		expect(res.status).toBe(403);
		expect(res.body.error?.type).toBe("invalid_mac");
		await expectUnchanged(siteId, chatId, token, first);
	});

	it("?wait= outside 0-25 seconds is 400", async () => {
		const { siteId, chatId, token } = await chatWithOneMessage();
		for (const wait of ["26", "-1", "abc"]) {
			const res = await api(`${messagesPath(siteId, chatId)}?wait=${wait}`, {
				token,
			});
			expect(res.status).toBe(400);
		}
	});

	it("rate-limits a visitor's sends per minute with 429", async () => {
		const { siteId, chatId, token } = await chatWithOneMessage({
			limits: { messagesPerMinutePerVisitor: 3 },
		});
		expect((await send(siteId, chatId, token, [1, 0], "two")).status).toBe(200);
		expect((await send(siteId, chatId, token, [2, 0], "three")).status).toBe(
			200
		);
		const limited = await send(siteId, chatId, token, [3, 0], "four");
		expect(limited.status).toBe(429);
		expect(limited.body.error?.type).toBe("rate_limited");
		expect((await poll(siteId, chatId, token)).body.visitorDataOffset).toBe(3);
	});

	it("a chat on an unknown site cannot be started", async () => {
		const res = await api(`/sites/no-such-site/chats`, {
			method: "POST",
			body: json({ visitor: {} }),
		});
		expect(res.status).toBe(404);
		expect(await res.json()).toMatchObject({
			code: -1,
			error: { type: "not_found" },
		});
	});
});

describe("ending a chat", () => {
	it("is idempotent, tells both sides, and refuses later sends with 409 chat_ended", async () => {
		const { siteId, chatId, token } = await chatWithOneMessage();
		const endPath = `/sites/${siteId}/chats/${chatId}/end`;
		const ended = await api(endPath, {
			method: "POST",
			token,
			offsets: [1, 0],
		});
		expect(ended.status).toBe(200);
		const body = await ended.json<{
			status: string;
			messages: ChatMessage[];
			agentDataOffset: number;
		}>();
		expect(body.status).toBe("ended");
		expect(body.messages.map((m) => [m.type, m.content])).toEqual([
			[4, "The chat has ended"],
		]);
		const again = await api(endPath, {
			method: "POST",
			token,
			offsets: [1, 1],
		});
		expect(await again.json()).toMatchObject({
			code: 0,
			status: "ended",
			agentDataOffset: 1,
			messages: [],
		});

		const late = await send(siteId, chatId, token, [1, 1], "hello?");
		expect(late.status).toBe(409);
		expect(late.body.error?.type).toBe("chat_ended");
		expect((await poll(siteId, chatId, token)).body.visitorDataOffset).toBe(1);
	});
});
