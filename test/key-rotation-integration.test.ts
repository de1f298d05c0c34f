/**
 * SPEC §6, key rotation, on a real deployment: the suite's server runs on rotated keys ("test-k2"
 * current, "test-k1" in PREVIOUS_KEYS, see vitest.config.ts). A client that holds what a k1
 * deployment gave it (tokens, macs, sealed state) rebuilds its chat here and carries on.
 */
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { ChatMetaSchema } from "../src/protocol/chat-state.ts";
import { keyRing } from "../src/security/keys.ts";
import { signMessage, verifyMessage } from "../src/security/message-mac.ts";
import { open, seal } from "../src/security/sealed-state.ts";
import { signAgentToken, signVisitorToken } from "../src/security/tokens.ts";
import {
	api,
	createAgent,
	createSite,
	poll,
	rebuild,
	send,
	startChat,
} from "./helpers.ts";
import type { ChatMessage } from "../src/protocol/chat.ts";
import type { KeyEnv } from "../src/security/keys.ts";

const { PREVIOUS_KEYS } = env as Env & { PREVIOUS_KEYS: string };
const server = keyRing({ ...env, PREVIOUS_KEYS });
const RETIRED = "test-k1";
/** What a deployment that ran before the rotation signed and sealed with. */
const retired = keyRing({
	KEY_ID: RETIRED,
	...(JSON.parse(PREVIOUS_KEYS) as Record<string, Omit<KeyEnv, "KEY_ID">>)[
		RETIRED
	]!,
});

/** A chat as a k1 deployment left it in its clients' hands: one message each way, all under k1. */
async function chatFromBeforeTheRotation() {
	const siteId = await createSite();
	const agent = await createAgent(siteId, "Rita");
	// The shape of a real chat's metadata, taken from a chat this server starts, moved to a new chat id.
	const started = await startChat(siteId);
	const meta = ChatMetaSchema.parse(
		await open(server, siteId, started.chatId, started.chatState)
	);
	const chatId = crypto.randomUUID();
	const now = Date.now();
	const chatState = await seal(retired, siteId, chatId, {
		...meta,
		chatId,
		v: meta.v + 1,
		status: "chatting",
		agentIds: [agent.agentId],
		agentNames: { [agent.agentId]: "Rita" },
		startTime: now,
	});
	const messages: ChatMessage[] = [];
	for (const [type, senderId, content] of [
		[1, meta.visitorId, "hello from before"],
		[2, agent.agentId, "hi, before too"],
	] as const) {
		const m = {
			id: crypto.randomUUID(),
			type,
			dataOffset: 1,
			sendTime: now + messages.length,
			senderId,
			content,
		};
		messages.push({ ...m, mac: await signMessage(retired, siteId, chatId, m) });
	}
	return {
		siteId,
		chatId,
		chatState,
		messages,
		visitorToken: await signVisitorToken(retired, {
			visitorId: meta.visitorId,
			siteId,
			chatId,
		}),
		agentToken: await signAgentToken(retired, {
			agentId: agent.agentId,
			siteId,
			name: "Rita",
			agentRole: "agent",
			maxChats: 5,
			tokenVersion: 1,
		}),
	};
}

describe("key rotation", () => {
	it("rebuilds a chat from a retired key's tokens, macs and sealed state, and the chat goes on", async () => {
		const old = await chatFromBeforeTheRotation();
		expect(old.chatState.startsWith(`s1.${RETIRED}.`)).toBe(true);
		expect(old.messages.every((m) => m.mac.startsWith(`${RETIRED}.`))).toBe(
			true
		);

		// The server has never seen the chat: the k1 token is good enough to be told to rebuild.
		expect(
			(await poll(old.siteId, old.chatId, old.visitorToken, [1, 1])).body
		).toMatchObject({ code: 1, visitorDataOffset: -1, agentDataOffset: -1 });
		const rebuilt = await rebuild(old.siteId, old.chatId, old.visitorToken, {
			chatState: old.chatState,
			visitorDataOffset: 1,
			agentDataOffset: 1,
			messages: old.messages,
		});
		expect(rebuilt.status).toBe(200);
		expect(rebuilt.body).toMatchObject({
			code: 0,
			visitorDataOffset: 1,
			agentDataOffset: 1,
		});

		// The agent's k1 token reads it.
		const seen = await poll(old.siteId, old.chatId, old.agentToken, [0, 0]);
		expect(seen.status).toBe(200);
		expect(seen.body.messages.map((m) => m.content)).toEqual([
			"hello from before",
			"hi, before too",
		]);

		// Both go on with their k1 tokens; what is new is signed and sealed under k2.
		const visitorSends = await send(
			old.siteId,
			old.chatId,
			old.visitorToken,
			[1, 1],
			"still here after the rotation"
		);
		expect(visitorSends.status).toBe(200);
		expect(
			visitorSends.body.messages
				.at(-1)!
				.mac.startsWith(`${server.current.kid}.`)
		).toBe(true);
		const agentSends = await send(
			old.siteId,
			old.chatId,
			old.agentToken,
			[2, 1],
			"so am I"
		);
		expect(agentSends.status).toBe(200);
		expect(agentSends.body).toMatchObject({
			code: 0,
			visitorDataOffset: 2,
			agentDataOffset: 2,
		});
		const end = await api(`/sites/${old.siteId}/chats/${old.chatId}/end`, {
			method: "POST",
			token: old.agentToken,
			offsets: [2, 2],
		});
		expect(end.status).toBe(200);
		const ended = await end.json<{ chatState?: string }>();
		expect(ended.chatState?.startsWith(`s1.${server.current.kid}.`)).toBe(true);
	});

	it("re-signs the messages of a retired key when it rebuilds, so they outlive that key", async () => {
		const old = await chatFromBeforeTheRotation();
		await rebuild(old.siteId, old.chatId, old.visitorToken, {
			chatState: old.chatState,
			visitorDataOffset: 1,
			agentDataOffset: 1,
			messages: old.messages,
		});
		const { body } = await poll(
			old.siteId,
			old.chatId,
			old.visitorToken,
			[0, 0]
		);
		expect(body.messages.map((m) => m.id)).toEqual(
			old.messages.map((m) => m.id)
		);
		for (const m of body.messages) {
			expect(m.mac.startsWith(`${server.current.kid}.`), m.mac).toBe(true);
			expect(await verifyMessage(server, old.siteId, old.chatId, m)).toBe(true);
		}
	});

	it("refuses a token, mac or state under a kid it does not know", async () => {
		const old = await chatFromBeforeTheRotation();
		const unknown = keyRing({
			KEY_ID: "test-k0",
			TOKEN_SECRET: server.current.tokenSecret,
			CHAT_SIGNING_KEY: "x".repeat(32),
			STATE_SEALING_KEY: server.current.sealingKey,
		});
		const token = await signVisitorToken(unknown, {
			visitorId: "v",
			siteId: old.siteId,
			chatId: old.chatId,
		});
		expect((await poll(old.siteId, old.chatId, token)).status).toBe(401);

		const unknownState = await seal(
			unknown,
			old.siteId,
			old.chatId,
			ChatMetaSchema.parse(
				await open(retired, old.siteId, old.chatId, old.chatState)
			)
		);
		const badState = await rebuild(old.siteId, old.chatId, old.visitorToken, {
			chatState: unknownState,
			visitorDataOffset: 0,
			agentDataOffset: 0,
			messages: [],
		});
		expect(badState.status).toBe(403);

		const relabelled = old.messages.map((m) => ({
			...m,
			mac: m.mac.replace(`${RETIRED}.`, "test-k0."),
		}));
		const badMac = await rebuild(old.siteId, old.chatId, old.visitorToken, {
			chatState: old.chatState,
			visitorDataOffset: 1,
			agentDataOffset: 1,
			messages: relabelled,
		});
		expect(badMac.status).toBe(403);
		expect(badMac.body.error?.type).toBe("invalid_mac");
		// Nothing was stored by the refused rebuilds.
		expect(
			(await poll(old.siteId, old.chatId, old.visitorToken)).body
		).toMatchObject({ code: 1, visitorDataOffset: -1, agentDataOffset: -1 });
	});
});
