/**
 * SPEC §4, §6: a chat's agents change only by the room's decision. A transferred-away agent stays out
 * whatever older chatState it or the visitor replays, and its open socket is closed at once; a
 * monitoring supervisor is invisible; an ended chat is not taken again; invitations are bounded.
 */
import { describe, expect, it } from "vitest";
import { LiveChatClient } from "../client/index.ts";
import { fetchVia, socketOpener, until } from "./client-helpers.ts";
import { myChats, online } from "./dispatch.ts";
import {
	accept,
	api,
	BASE as BASE_URL,
	createAgent,
	createSite,
	json,
	poll,
	rebuild,
	rebuildWithState,
	send,
	startChat,
} from "./helpers.ts";
import { loseChat } from "./lose-chat.ts";
import { TestSocket } from "./sockets.ts";
import type { ChatEvent } from "../client/index.ts";
import type { ServerFrame } from "../src/protocol/ws.ts";

const MAX_PENDING_INVITATIONS = 5;

const manual = { routing: { mode: "manual" as const, sticky: false } };

function chatCall(
	siteId: string,
	chatId: string,
	what: string,
	token: string,
	body: unknown = {}
) {
	return api(`/sites/${siteId}/chats/${chatId}/${what}`, {
		method: "POST",
		token,
		body: json(body),
	});
}

/** A chat Alice accepted and then handed to Bob, with the chatStates each side held before the transfer. */
async function transferredChat() {
	const siteId = await createSite(manual);
	const alice = await createAgent(siteId, "Alice");
	const bob = await createAgent(siteId, "Bob");
	await online(siteId, bob.token);
	const chat = await startChat(siteId);
	const accepted = await accept(siteId, chat.chatId, alice.token);
	expect(accepted.status).toBe(200);
	const aliceState = accepted.body.chatState!;
	const first = await send(siteId, chat.chatId, chat.token, [0, 1], "hello?");
	// The visitor's copy of the state that lists Alice, as its poll handed it over.
	const visitorView = await poll(siteId, chat.chatId, chat.token);
	const visitorState = visitorView.body.chatState!;
	expect(first.status).toBe(200);
	const aliceSocket = await TestSocket.hello(
		siteId,
		chat.chatId,
		alice.token,
		[1, 1]
	);
	const moved = await chatCall(siteId, chat.chatId, "transfer", alice.token, {
		toAgentId: bob.agentId,
	});
	expect(moved.status).toBe(200);
	return {
		siteId,
		chat,
		alice,
		bob,
		aliceState,
		visitorState,
		aliceSocket,
		messages: visitorView.body.messages,
	};
}

describe("a transferred-away agent stays out (SPEC §6)", () => {
	it("closes the old agent's open socket with 4403 by the transfer, before the visitor's next message reaches it", async () => {
		const { siteId, chat, aliceSocket } = await transferredChat();
		expect(await aliceSocket.closed()).toBe(4403);
		await send(siteId, chat.chatId, chat.token, [1, 3], "are you there?");
		expect(
			aliceSocket.frames.some(
				(f) => f.type === "message" && f.message.content === "are you there?"
			)
		).toBe(false);
	});

	it("refuses the old agent's rebuild with its pre-transfer chatState, and it reads and sends nothing after", async () => {
		const { siteId, chat, alice, aliceState } = await transferredChat();
		const replay = await rebuildWithState(
			siteId,
			chat.chatId,
			alice.token,
			aliceState
		);
		expect(replay.status).toBe(403);
		expect(replay.body.error?.type).toBe("not_in_chat");
		expect((await poll(siteId, chat.chatId, alice.token)).status).toBe(403);
		const sent = await send(siteId, chat.chatId, alice.token, [1, 3], "hi");
		expect(sent.status).toBe(403);
		expect(
			(await chatCall(siteId, chat.chatId, "end", alice.token)).status
		).toBe(403);
		const visitor = await poll(siteId, chat.chatId, chat.token, [1, 0]);
		expect(visitor.body.status).toBe("chatting");
		expect(visitor.body.messages.map((m) => m.content)).not.toContain("hi");
	});

	it("does not let the visitor's replay of an older chatState put the old agent back", async () => {
		const { siteId, chat, alice, bob, visitorState, messages } =
			await transferredChat();
		const replay = await rebuild(siteId, chat.chatId, chat.token, {
			chatState: visitorState,
			visitorDataOffset: 1,
			agentDataOffset: 1,
			messages: messages.filter((m) => m.type === 1),
		});
		expect(replay.status).toBe(200);
		expect((await poll(siteId, chat.chatId, alice.token)).status).toBe(403);
		expect((await poll(siteId, chat.chatId, bob.token)).status).toBe(200);
		// Nor may Alice now come back with her own older state.
		const hers = await rebuildWithState(
			siteId,
			chat.chatId,
			alice.token,
			visitorState
		);
		expect(hers.status).toBe(403);
	});

	it("refuses the old agent's socket hello after the transfer", async () => {
		const { siteId, chat, alice } = await transferredChat();
		const socket = await TestSocket.open(siteId, chat.chatId);
		socket.send({
			type: "hello",
			token: alice.token,
			visitorDataOffset: 0,
			agentDataOffset: 0,
		});
		expect(await socket.closed()).toBe(4403);
	});
});

describe("the old agent's client after a transfer", () => {
	it("stops its link and says so, instead of retrying a 403 every few seconds", async () => {
		const siteId = await createSite(manual);
		const alice = await createAgent(siteId, "Alice");
		const bob = await createAgent(siteId, "Bob");
		await online(siteId, bob.token);
		const chat = await startChat(siteId);
		await accept(siteId, chat.chatId, alice.token);
		const events: ChatEvent[] = [];
		const sockets: WebSocket[] = [];
		const client = new LiveChatClient({
			baseUrls: [BASE_URL],
			siteId,
			chatId: chat.chatId,
			token: alice.token,
			fetch: fetchVia,
			openSocket: socketOpener(sockets),
			onEvent: (event) => events.push(event),
		});
		await client.connect();
		expect(client.realtime).toBe("websocket");
		const moved = await chatCall(siteId, chat.chatId, "transfer", alice.token, {
			toAgentId: bob.agentId,
		});
		expect(moved.status).toBe(200);
		await until(
			() => events.some((e) => e.type === "refused"),
			"the client to be refused"
		);
		expect(events.find((e) => e.type === "refused")).toMatchObject({
			error: { type: "not_in_chat" },
		});
		expect(client.realtime).toBe("off");
	});
});

describe("a room that lost the chat keeps the newest membership (SPEC §3, §6)", () => {
	/** The visitor's copy after the transfer: its state, which shows Alice gone, and its messages. */
	async function visitorCopy(siteId: string, chatId: string, token: string) {
		const { body } = await poll(siteId, chatId, token);
		return {
			chatState: body.chatState!,
			visitorDataOffset: body.visitorDataOffset,
			agentDataOffset: body.agentDataOffset,
			messages: body.messages,
		};
	}

	it("refuses the old agent's replay once the visitor has rebuilt the room", async () => {
		const { siteId, chat, alice, bob, aliceState } = await transferredChat();
		const copy = await visitorCopy(siteId, chat.chatId, chat.token);
		await loseChat(siteId, chat.chatId);
		expect((await rebuild(siteId, chat.chatId, chat.token, copy)).status).toBe(
			200
		);
		const replay = await rebuildWithState(
			siteId,
			chat.chatId,
			alice.token,
			aliceState
		);
		expect(replay.status).toBe(403);
		// Not code 1 either: the restored room knows Alice was transferred away.
		expect((await poll(siteId, chat.chatId, alice.token)).status).toBe(403);
		expect((await poll(siteId, chat.chatId, bob.token)).status).toBe(200);
	});

	it("takes the old agent out again, socket and all, when a newer copy arrives after its replay", async () => {
		const { siteId, chat, alice, aliceState } = await transferredChat();
		const copy = await visitorCopy(siteId, chat.chatId, chat.token);
		await loseChat(siteId, chat.chatId);
		// First to the empty room, Alice's older copy is all it has to go on.
		const socket = await TestSocket.hello(siteId, chat.chatId, alice.token);
		const early = await rebuildWithState(
			siteId,
			chat.chatId,
			alice.token,
			aliceState
		);
		expect(early.status).toBe(200);
		expect((await rebuild(siteId, chat.chatId, chat.token, copy)).status).toBe(
			200
		);
		expect(await socket.closed()).toBe(4403);
		expect((await poll(siteId, chat.chatId, alice.token)).status).toBe(403);
	});
});

describe("a monitoring supervisor is invisible (SPEC §4)", () => {
	it("passes none of its typing or read frames to the visitor, while the chat's agent's still reach it", async () => {
		const siteId = await createSite(manual);
		const alice = await createAgent(siteId, "Alice");
		const sam = await createAgent(siteId, "Sam", { role: "supervisor" });
		const chat = await startChat(siteId);
		await accept(siteId, chat.chatId, alice.token);
		await send(siteId, chat.chatId, chat.token, [0, 1], "hello?");
		expect(
			(await chatCall(siteId, chat.chatId, "monitor", sam.token)).status
		).toBe(200);
		const visitor = await TestSocket.hello(
			siteId,
			chat.chatId,
			chat.token,
			[1, 1]
		);
		const watcher = await TestSocket.hello(
			siteId,
			chat.chatId,
			sam.token,
			[1, 1]
		);
		const agent = await TestSocket.hello(
			siteId,
			chat.chatId,
			alice.token,
			[1, 1]
		);
		watcher.send({ type: "typing", on: true });
		watcher.send({ type: "read", visitorDataOffset: 1, agentDataOffset: 1 });
		// A monitor cannot send: its error answer says the room has handled the frames before it.
		watcher.send({
			type: "send",
			message: { id: crypto.randomUUID(), content: "psst" },
		});
		await watcher.next((f) => f.type === "error");
		// Frames on one socket arrive in order: what the visitor hears first after this is Alice's.
		agent.send({ type: "typing", on: true });
		const isTypingOrRead = (f: ServerFrame) =>
			f.type === "typing" || f.type === "read";
		const heard = await visitor.next(isTypingOrRead);
		expect(heard).toMatchObject({
			type: "typing",
			role: "agent",
			senderId: alice.agentId,
		});
		agent.send({ type: "read", visitorDataOffset: 1, agentDataOffset: 1 });
		expect(await visitor.next(isTypingOrRead)).toMatchObject({
			type: "read",
			senderId: alice.agentId,
		});
		for (const s of [visitor, watcher, agent]) s.close();
	});
});

describe("what an agent can take (SPEC §7)", () => {
	it("answers 409 to an accept of an ended chat, even by its own agent", async () => {
		const siteId = await createSite(manual);
		const alice = await createAgent(siteId, "Alice");
		const chat = await startChat(siteId);
		expect((await accept(siteId, chat.chatId, alice.token)).status).toBe(200);
		// A retry while the chat is live is the same accept.
		expect((await accept(siteId, chat.chatId, alice.token)).status).toBe(200);
		expect(
			(await chatCall(siteId, chat.chatId, "end", chat.token)).status
		).toBe(200);
		const again = await accept(siteId, chat.chatId, alice.token);
		expect(again.status).toBe(409);
		expect(again.body.error?.type).toBe("conflict");
	});

	it("never counts a re-accepted ended chat against the agent: a full agent's real chat is still taken", async () => {
		const siteId = await createSite(manual);
		const alice = await createAgent(siteId, "Alice", { maxChats: 2 });
		const ended = [await startChat(siteId), await startChat(siteId)];
		for (const chat of ended) {
			expect((await accept(siteId, chat.chatId, alice.token)).status).toBe(200);
			await chatCall(siteId, chat.chatId, "end", chat.token);
		}
		for (const chat of [...ended, ...ended])
			expect((await accept(siteId, chat.chatId, alice.token)).status).toBe(409);
		expect(await myChats(siteId, alice.token)).toEqual([]);
		const real = await startChat(siteId);
		expect((await accept(siteId, real.chatId, alice.token)).status).toBe(200);
	});

	it("keeps at most a few invitations pending per chat, and a join frees its place", async () => {
		const siteId = await createSite(manual);
		const alice = await createAgent(siteId, "Alice");
		const chat = await startChat(siteId);
		await accept(siteId, chat.chatId, alice.token);
		const invitees = [];
		for (let i = 0; i <= MAX_PENDING_INVITATIONS; i++) {
			const agent = await createAgent(siteId, `Agent${i}`);
			await online(siteId, agent.token);
			invitees.push(agent);
		}
		const invite = (agentId: string) =>
			chatCall(siteId, chat.chatId, "invite", alice.token, { agentId });
		for (const agent of invitees.slice(0, MAX_PENDING_INVITATIONS))
			expect((await invite(agent.agentId)).status).toBe(200);
		const over = await invite(invitees.at(-1)!.agentId);
		expect(over.status).toBe(409);
		const joined = await chatCall(
			siteId,
			chat.chatId,
			"join",
			invitees[0]!.token
		);
		expect(joined.status).toBe(200);
		expect((await invite(invitees.at(-1)!.agentId)).status).toBe(200);
	});
});
