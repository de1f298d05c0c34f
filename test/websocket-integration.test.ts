import {
	env,
	runDurableObjectAlarm,
	runInDurableObject,
} from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { chatRoom } from "../durable-objects/room-contract.ts";
import {
	accept,
	createAgent,
	createSite,
	poll,
	send,
	startChat,
} from "./helpers.ts";
import { TestSocket } from "./sockets.ts";
import { until } from "./waiting.ts";
import type { ChatMessage } from "../src/protocol/chat.ts";

const room = (siteId: string, chatId: string) => chatRoom(env, siteId, chatId);

/** Two visitor tabs, then the agent accepts the chat (its join notice is pushed to the tabs) and opens its socket. */
async function chatWithSockets() {
	const siteId = await createSite();
	const chat = await startChat(siteId);
	const agent = await createAgent(siteId);
	const [tab1, tab2] = await Promise.all([
		TestSocket.hello(siteId, chat.chatId, chat.token),
		TestSocket.hello(siteId, chat.chatId, chat.token),
	]);
	for (const s of [tab1, tab2]) await s.settled();
	expect((await accept(siteId, chat.chatId, agent.token)).status).toBe(200);
	const joinPushed = await Promise.all([tab1.settled(), tab2.settled()]);
	const agentSocket = await TestSocket.hello(siteId, chat.chatId, agent.token);
	for (const s of [tab1, tab2, agentSocket]) await s.settled();
	return { siteId, chat, agent, tab1, tab2, agentSocket, joinPushed };
}

const messagesIn = (frames: { type: string }[]) =>
	frames
		.filter(
			(f): f is { type: "message"; message: ChatMessage } =>
				f.type === "message"
		)
		.map((f) => f.message);

describe("WebSocket chat", () => {
	it("delivers each message once, in order, to every other socket, and acks the sender once", async () => {
		const { siteId, chat, tab1, tab2, agentSocket, joinPushed } =
			await chatWithSockets();
		// The agent's accept was pushed to every socket already there, as a message.
		for (const frames of joinPushed)
			expect(
				messagesIn(frames).map((m) => [m.type, m.dataOffset, m.content])
			).toEqual([[4, 1, "Alice joined the chat"]]);
		const ids = [crypto.randomUUID(), crypto.randomUUID(), crypto.randomUUID()];
		for (const [i, id] of ids.entries()) {
			tab1.send({ type: "send", message: { id, content: `visitor ${i + 1}` } });
			const ack = await tab1.next((f) => f.type === "ack");
			expect(ack).toMatchObject({ type: "ack", id, dataOffset: i + 1 });
		}
		agentSocket.send({
			type: "send",
			message: { id: crypto.randomUUID(), content: "agent 1" },
		});
		const agentAck = await agentSocket.next((f) => f.type === "ack");
		expect(agentAck).toMatchObject({ dataOffset: 2 }); // after the join notice

		const [fromTab1, fromTab2, fromAgent] = await Promise.all([
			tab1.settled(),
			tab2.settled(),
			agentSocket.settled(),
		]);
		expect(fromTab1.filter((f) => f.type === "ack")).toHaveLength(0); // no second ack
		expect(messagesIn(fromTab1).map((m) => m.content)).toEqual(["agent 1"]);
		expect(messagesIn(fromTab2).map((m) => m.content)).toEqual([
			"visitor 1",
			"visitor 2",
			"visitor 3",
			"agent 1",
		]);
		expect(messagesIn(fromAgent).map((m) => m.content)).toEqual([
			"visitor 1",
			"visitor 2",
			"visitor 3",
		]);
		// The socket copies are the server's (the join notice, agent offset 1, came before the sockets' messages).
		const server = (await poll(siteId, chat.chatId, chat.token)).body.messages;
		expect([...messagesIn(joinPushed[1]!), ...messagesIn(fromTab2)]).toEqual(
			server
		);
	});

	it("pushes messages sent over HTTP to the sockets too, and a resend over the socket is acked, not doubled", async () => {
		const { siteId, chat, tab1, agentSocket } = await chatWithSockets();
		// The visitor already holds the agent's join notice (agent offset 1).
		const sent = await send(
			siteId,
			chat.chatId,
			chat.token,
			[0, 1],
			"over HTTP"
		);
		expect(sent.body.messages.map((m) => m.content)).toEqual(["over HTTP"]);
		expect(messagesIn(await agentSocket.settled())).toEqual(sent.body.messages);
		expect(messagesIn(await tab1.settled())).toEqual(sent.body.messages);

		const id = sent.body.messages[0]!.id;
		tab1.send({ type: "send", message: { id, content: "over HTTP" } });
		expect(await tab1.next((f) => f.type === "ack")).toMatchObject({
			id,
			dataOffset: 1,
		});
		expect(messagesIn(await agentSocket.settled())).toEqual([]);
		expect(
			(await poll(siteId, chat.chatId, chat.token)).body.visitorDataOffset
		).toBe(1);
	});

	it("relays typing and read receipts to the others only", async () => {
		const { tab1, tab2, agentSocket } = await chatWithSockets();
		agentSocket.send({ type: "typing", on: true });
		expect(await tab1.next((f) => f.type === "typing")).toMatchObject({
			on: true,
			role: "agent",
		});
		expect(await tab2.next((f) => f.type === "typing")).toMatchObject({
			on: true,
			role: "agent",
		});
		tab1.send({ type: "read", visitorDataOffset: 0, agentDataOffset: 0 });
		expect(await agentSocket.next((f) => f.type === "read")).toMatchObject({
			role: "visitor",
		});
		expect(
			(await agentSocket.settled()).filter((f) => f.type === "typing")
		).toEqual([]);
	});

	it("asks a socket that says hello with offsets ahead of the room for a rebuild, and applies it over the socket", async () => {
		const siteId = await createSite();
		const chat = await startChat(siteId);
		const first = await send(siteId, chat.chatId, chat.token, [0, 0], "one");
		const socket = await TestSocket.open(siteId, chat.chatId);
		socket.send({
			type: "hello",
			token: chat.token,
			visitorDataOffset: 2,
			agentDataOffset: 0,
		});
		expect(await socket.next((f) => f.type === "rebuild")).toEqual({
			type: "rebuild",
			visitorDataOffset: 1,
			agentDataOffset: 0,
		});
		socket.send({
			type: "rebuild",
			visitorDataOffset: 1,
			agentDataOffset: 0,
			messages: first.body.messages,
		});
		expect(await socket.next((f) => f.type === "sync")).toMatchObject({
			code: 0,
			visitorDataOffset: 1,
			messages: [],
		});
	});

	it("ends the chat for every socket", async () => {
		const { siteId, chat, tab2, agentSocket } = await chatWithSockets();
		await send(siteId, chat.chatId, chat.token, [0, 0], "bye");
		const ended = await (
			await import("./helpers.ts")
		).api(`/sites/${siteId}/chats/${chat.chatId}/end`, {
			method: "POST",
			token: chat.token,
			offsets: [1, 0],
		});
		expect(ended.status).toBe(200);
		await agentSocket.next((f) => f.type === "ended");
		await tab2.next((f) => f.type === "ended");
		expect(await agentSocket.next((f) => f.type === "state")).toMatchObject({
			chatState: expect.any(String),
		});
	});
});

describe("WebSocket bad input", () => {
	it("closes a socket with 4408 when no hello came within 10 s (SPEC §6)", async () => {
		const siteId = await createSite();
		const chat = await startChat(siteId);
		const socket = await TestSocket.open(siteId, chat.chatId);
		const greeted = await TestSocket.hello(siteId, chat.chatId, chat.token);
		// Ten seconds pass: move this socket's connection time back rather than wait.
		await runInDurableObject(room(siteId, chat.chatId), (_instance, state) => {
			for (const ws of state.getWebSockets()) {
				const attachment = ws.deserializeAttachment() as {
					connectedAt: number;
					caller?: unknown;
				};
				if (!attachment.caller)
					ws.serializeAttachment({
						...attachment,
						connectedAt: attachment.connectedAt - 11_000,
					});
			}
		});
		expect(await runDurableObjectAlarm(room(siteId, chat.chatId))).toBe(true);
		expect(await socket.closed()).toBe(4408);
		expect(greeted.closedWith).toBeUndefined();
	});

	it("closes a socket with 4401 for a bad token, another chat's token, or any other frame before hello", async () => {
		const siteId = await createSite();
		const chat = await startChat(siteId);
		const other = await startChat(siteId);
		for (const hello of [
			{
				type: "hello",
				token: "garbage",
				visitorDataOffset: 0,
				agentDataOffset: 0,
			},
			{
				type: "hello",
				token: other.token,
				visitorDataOffset: 0,
				agentDataOffset: 0,
			},
			{
				type: "send",
				message: { id: crypto.randomUUID(), content: "no hello" },
			},
			// Before hello, even what would get an error frame later closes the socket (SPEC §6).
			"{not json",
			{ type: "typing", on: true },
			JSON.stringify({
				type: "typing",
				on: true,
				pad: "y".repeat(1024 * 1024),
			}),
		]) {
			const socket = await TestSocket.open(siteId, chat.chatId);
			socket.send(hello);
			expect(await socket.closed()).toBe(4401);
		}
		expect((await poll(siteId, chat.chatId, chat.token)).body.messages).toEqual(
			[]
		);
	});

	it("answers a malformed or oversized frame with an error frame, keeps the socket open, and stores nothing", async () => {
		const siteId = await createSite();
		const chat = await startChat(siteId);
		const socket = await TestSocket.hello(siteId, chat.chatId, chat.token);
		for (const [frame, type] of [
			["{not json", "invalid_request"],
			[{ type: "send", message: { id: 7, content: "x" } }, "invalid_request"],
			[{ type: "dance" }, "invalid_request"],
			[
				{ type: "send", message: { id: "fine", content: "not a UUID" } },
				"invalid_request",
			],
			[
				{
					type: "send",
					message: { id: crypto.randomUUID(), content: "x".repeat(4001) },
				},
				"payload_too_large",
			],
			[
				JSON.stringify({
					type: "typing",
					on: true,
					pad: "y".repeat(1024 * 1024),
				}),
				"payload_too_large",
			],
			// A second hello is refused, and the socket stays the first one's.
			[
				{
					type: "hello",
					token: chat.token,
					visitorDataOffset: 0,
					agentDataOffset: 0,
				},
				"invalid_request",
			],
		] as const) {
			socket.send(frame);
			expect(await socket.next((f) => f.type === "error")).toMatchObject({
				error: { type },
			});
		}
		expect(socket.closedWith).toBeUndefined();
		const id = crypto.randomUUID();
		socket.send({ type: "send", message: { id, content: "still works" } });
		expect(await socket.next((f) => f.type === "ack")).toMatchObject({
			id,
			dataOffset: 1,
		});
		expect(
			(await poll(siteId, chat.chatId, chat.token)).body.messages.map(
				(m) => m.content
			)
		).toEqual(["still works"]);
	});

	it("answers ping with pong", async () => {
		const siteId = await createSite();
		const chat = await startChat(siteId);
		const socket = await TestSocket.hello(siteId, chat.chatId, chat.token);
		socket.send("ping");
		await until(() => socket.texts.length > 0, "the pong");
		expect(socket.texts).toEqual(["pong"]);
	});
});
