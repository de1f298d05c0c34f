/** SPEC §2, §6: ids are lower-case UUIDs and every text well-formed, so what is stored is what was signed. */
import { abortAllDurableObjects } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import {
	api,
	createSite,
	json,
	poll,
	rebuild,
	send,
	startChat,
} from "./helpers.ts";
import { TestSocket } from "./sockets.ts";

describe("ids and text", () => {
	it("refuses lone surrogates in ids and content, over HTTP and sockets, and stores nothing", async () => {
		const siteId = await createSite();
		const chat = await startChat(siteId);
		const path = `/sites/${siteId}/chats/${chat.chatId}/messages`;
		const bodies = [
			'{"id":"a\\ud800","content":"x"}',
			'{"id":"a\\ud801","content":"x"}',
			`{"id":"${crypto.randomUUID()}","content":"broken \\ud800 text"}`,
			`{"id":"${crypto.randomUUID()}","content":"broken \\udfff"}`,
			`{"id":"${crypto.randomUUID().toUpperCase()}","content":"upper-case id"}`,
			`{"id":"not-a-uuid","content":"x"}`,
		];
		for (const body of bodies) {
			const res = await api(path, {
				method: "POST",
				token: chat.token,
				offsets: [0, 0],
				body,
			});
			expect(res.status, body).toBe(400);
			expect((await res.json<{ error: { type: string } }>()).error.type).toBe(
				"invalid_request"
			);
		}
		const socket = await TestSocket.hello(siteId, chat.chatId, chat.token);
		socket.send(
			`{"type":"send","message":{"id":"${crypto.randomUUID()}","content":"\\ud83d alone"}}`
		);
		expect(await socket.next((f) => f.type === "error")).toMatchObject({
			error: { type: "invalid_request" },
		});
		expect((await poll(siteId, chat.chatId, chat.token)).body.messages).toEqual(
			[]
		);
	});

	it("keeps every accepted message, emoji and all, exactly as signed across a reload, so later sends and rebuilds still work", async () => {
		const siteId = await createSite();
		const chat = await startChat(siteId);
		const contents = [
			"plain",
			"emoji 😀 and 𝄞",
			"accents é ü ñ",
			"ＣＪＫ 漢字",
			"a\u200db",
		];
		for (const [i, content] of contents.entries())
			expect(
				(await send(siteId, chat.chatId, chat.token, [i, 0], content)).status
			).toBe(200);
		const before = (await poll(siteId, chat.chatId, chat.token)).body.messages;
		/** A rebuild that uploads the visitor's copy as it was read, at the given visitor offset. */
		const giveBack = (visitorDataOffset: number) =>
			rebuild(siteId, chat.chatId, chat.token, {
				chatState: chat.chatState,
				visitorDataOffset,
				agentDataOffset: 0,
				messages: before,
			});
		await abortAllDurableObjects();
		const after = await poll(siteId, chat.chatId, chat.token, [0, 0]);
		if (after.body.code === 1) {
			// Memory mode lost the chat: the visitor's copy (macs as given) must rebuild it.
			const rebuilt = await giveBack(5);
			expect(rebuilt.status).toBe(200);
		} else {
			expect(after.body.messages).toEqual(before);
		}
		expect(
			(await poll(siteId, chat.chatId, chat.token)).body.messages.map(
				(m) => m.content
			)
		).toEqual(contents);
		expect(
			(await send(siteId, chat.chatId, chat.token, [5, 0], "still works"))
				.status
		).toBe(200);
		// The stored copy still verifies: a rebuild giving it all back is accepted and changes nothing.
		const again = await giveBack(0);
		expect(again.status).toBe(200);
		expect(again.body.visitorDataOffset).toBe(6);
	});

	it("refuses JSON nested deeper than a few levels with 400, not a crash", async () => {
		const siteId = await createSite();
		// The case: 7,000 levels (arrays, to fit the 16 KiB start body).
		const deep = await api(`/sites/${siteId}/chats`, {
			method: "POST",
			body: `{"visitor":{},"prechat":{"a":${"[".repeat(7000)}${"]".repeat(7000)}}}`,
		});
		expect(deep.status).toBe(400);
		expect(
			(await deep.json<{ error: { message: string } }>()).error.message
		).toMatch(/nested deeper/);
		const shallow = await api(`/sites/${siteId}/chats`, {
			method: "POST",
			body: json({ visitor: {}, prechat: { a: { b: { c: "ok" } } } }),
		});
		expect(shallow.status).toBe(201);
	});
});
