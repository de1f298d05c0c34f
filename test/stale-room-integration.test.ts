/**
 * A room on another deployment may not have heard of a transfer yet: it still names the old agent
 * and refuses the new one (403 not_in_chat). The new agent's client holds the chatState that names
 * it, so it brings that once before the refusal stands, and the room catches up (SPEC §3, §6).
 */
import {
	abortAllDurableObjects,
	env,
	runInDurableObject,
} from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { LiveChatClient } from "../client/index.ts";
import { chatRoom } from "../durable-objects/room-contract.ts";
import { fetchVia } from "./client-helpers.ts";
import { online } from "./dispatch.ts";
import {
	accept,
	api,
	BASE,
	createAgent,
	createSite,
	json,
	poll,
	startChat,
} from "./helpers.ts";

type Row = { meta: string; chat_state: string };

describe("a room behind a transfer made elsewhere", () => {
	it("lets the new agent in once its client brings the chatState that names it; the old agent is out", async () => {
		// Only a durable room keeps an older state of its own (a memory-mode one restored from a copy asks for code 1).
		if (env.CHAT_STATE !== "durable") return;
		const siteId = await createSite({
			routing: { mode: "manual", sticky: false },
		});
		const alice = await createAgent(siteId, "Alice");
		const bob = await createAgent(siteId, "Bob");
		await online(siteId, bob.token);
		const chat = await startChat(siteId);
		expect((await accept(siteId, chat.chatId, alice.token)).status).toBe(200);
		const room = chatRoom(env, siteId, chat.chatId);
		const before = await runInDurableObject(room, (_i, state) =>
			state.storage.sql.exec<Row>("SELECT meta, chat_state FROM chat").one()
		);

		const moved = await api(`/sites/${siteId}/chats/${chat.chatId}/transfer`, {
			method: "POST",
			token: alice.token,
			body: json({ toAgentId: bob.agentId }),
		});
		expect(moved.status).toBe(200);
		const { chatState } = await moved.json<{ chatState: string }>();
		// The room forgets the transfer, as the other deployment's room never heard of it.
		await runInDurableObject(room, (_i, state) => {
			state.storage.sql.exec(
				"UPDATE chat SET meta = ?, chat_state = ?",
				before.meta,
				before.chat_state
			);
		});
		await abortAllDurableObjects();
		expect((await poll(siteId, chat.chatId, bob.token)).status).toBe(403);

		const bobsClient = new LiveChatClient({
			baseUrls: [BASE],
			siteId,
			chatId: chat.chatId,
			token: bob.token,
			chatState,
			fetch: fetchVia,
		});
		await bobsClient.poll();
		expect(bobsClient.messages.map((m) => m.content)).toContain(
			"Alice transferred the chat to Bob"
		);
		expect((await poll(siteId, chat.chatId, alice.token)).status).toBe(403);
	});
});
