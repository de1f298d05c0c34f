import { env, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { ChatLog } from "../../durable-objects/chat-model.ts";
import { ChatRoom } from "../../durable-objects/chat-room.ts";
import { chatRoom } from "../../durable-objects/room-contract.ts";
import {
	accept,
	createAgent,
	createSite,
	poll,
	startChat,
} from "../helpers.ts";
import { TestSocket } from "../sockets.ts";
import type { ChatMessage } from "../../src/protocol/chat.ts";
import type { ServerFrame } from "../../src/protocol/ws.ts";

/**
 * What hibernation does to a memory-mode room: the sockets stay connected, the object is dropped
 * and constructed again on the next frame, so every field is as the constructor leaves it. The
 * test pool cannot hibernate on demand (its abort closes the sockets), so this does the same to
 * the live instance.
 */
async function hibernateAndForget(siteId: string, chatId: string) {
	const stub = chatRoom(env, siteId, chatId);
	await runInDurableObject(stub, (instance, state) => {
		Object.assign(instance, new ChatRoom(state, env));
	});
}

/** A socket client's local copy, built only from what the room sent it. */
class SocketClient {
	readonly log = new ChatLog();
	chatState: string | undefined;
	private readonly outbox = new Map<string, string>();

	constructor(
		readonly socket: TestSocket,
		private readonly senderId: string,
		private readonly type: 1 | 2
	) {}

	send(content: string) {
		const id = crypto.randomUUID();
		this.outbox.set(id, content);
		this.socket.send({
			type: "send",
			message: { id, content },
			...this.log.offsets,
		});
		return id;
	}

	/** Takes every frame received so far into the copy; returns the rebuild requests among them. */
	take(frames: ServerFrame[]): Extract<ServerFrame, { type: "rebuild" }>[] {
		const rebuilds: Extract<ServerFrame, { type: "rebuild" }>[] = [];
		for (const f of frames) {
			if (f.type === "message") this.log.place(f.message);
			if (f.type === "sync") f.messages.forEach((m) => this.log.place(m));
			if (f.type === "state") this.chatState = f.chatState;
			if (
				(f.type === "sync" || f.type === "message") &&
				"chatState" in f &&
				f.chatState
			)
				this.chatState = f.chatState;
			if (f.type === "ack") {
				const content = this.outbox.get(f.id)!;
				this.outbox.delete(f.id);
				const { type: _t, ...rest } = f;
				this.log.place({
					...rest,
					type: this.type,
					content,
					senderId: this.senderId,
					...(this.type === 2 ? { senderName: "Alice" } : {}),
				} as ChatMessage);
			}
			if (f.type === "rebuild") rebuilds.push(f);
		}
		return rebuilds;
	}

	/** What a client does after a rebuild: the same messages again, with the same ids. */
	resendOutbox() {
		for (const [id, content] of this.outbox)
			this.socket.send({
				type: "send",
				message: { id, content },
				...this.log.offsets,
			});
	}

	rebuild(server: { visitorDataOffset: number; agentDataOffset: number }) {
		const since = {
			visitorDataOffset: Math.max(0, server.visitorDataOffset),
			agentDataOffset: Math.max(0, server.agentDataOffset),
		};
		this.socket.send({
			type: "rebuild",
			chatState: this.chatState,
			...this.log.offsets,
			messages: this.log.above(since),
		});
	}
}

describe("a memory-mode room that wakes from hibernation without its chat", () => {
	it("asks every connected socket for a full rebuild; they rebuild over the sockets and the chat goes on", async () => {
		const siteId = await createSite();
		const chat = await startChat(siteId);
		const agentLogin = await createAgent(siteId);
		const visitorSocket = await TestSocket.hello(
			siteId,
			chat.chatId,
			chat.token
		);
		const visitor = new SocketClient(
			visitorSocket,
			String(JSON.parse(atob(chat.token.split(".")[1]!)).sub),
			1
		);
		visitor.chatState = chat.chatState;
		// The agent accepts: the visitor's socket is pushed the join notice; the agent's socket gets it in its hello's sync.
		await accept(siteId, chat.chatId, agentLogin.token);
		const agentSocket = await TestSocket.open(siteId, chat.chatId);
		const agent = new SocketClient(agentSocket, agentLogin.agentId, 2);
		agentSocket.send({
			type: "hello",
			token: agentLogin.token,
			visitorDataOffset: 0,
			agentDataOffset: 0,
		});
		agent.take([await agentSocket.next((f) => f.type === "sync")]);
		visitor.take(await visitorSocket.settled());
		agent.take(await agentSocket.settled());

		for (let i = 1; i <= 3; i++) {
			visitor.send(`visitor ${i}`);
			await visitorSocket
				.next((f) => f.type === "ack")
				.then((ack) => visitor.take([ack]));
			agent.send(`agent ${i}`);
			await agentSocket
				.next((f) => f.type === "ack")
				.then((ack) => agent.take([ack]));
			visitor.take(await visitorSocket.settled());
			agent.take(await agentSocket.settled());
		}
		const before = visitor.log.all();
		expect(before).toHaveLength(7);
		expect(agent.log.all()).toEqual(before);

		await hibernateAndForget(siteId, chat.chatId);

		// The next frame, from the agent, wakes it: both sockets are asked for a full rebuild.
		agent.send("after the nap");
		const [agentAsked] = agent.take([
			await agentSocket.next((f) => f.type === "rebuild"),
		]);
		const [visitorAsked] = visitor.take([
			await visitorSocket.next((f) => f.type === "rebuild"),
		]);
		expect(agentAsked).toEqual({
			type: "rebuild",
			visitorDataOffset: -1,
			agentDataOffset: -1,
		});
		expect(visitorAsked).toEqual({
			type: "rebuild",
			visitorDataOffset: -1,
			agentDataOffset: -1,
		});

		visitor.rebuild(visitorAsked!);
		agent.rebuild(agentAsked!);
		visitor.take([await visitorSocket.next((f) => f.type === "sync")]);
		agent.take([await agentSocket.next((f) => f.type === "sync")]);

		// The message the empty room refused goes again, then the conversation goes on over the same sockets.
		agent.resendOutbox();
		agent.take([await agentSocket.next((f) => f.type === "ack")]);
		agent.send("still here");
		agent.take([await agentSocket.next((f) => f.type === "ack")]);
		visitor.send("me too");
		visitor.take([await visitorSocket.next((f) => f.type === "ack")]);
		visitor.take(await visitorSocket.settled());
		agent.take(await agentSocket.settled());

		const server = new ChatLog(
			(await poll(siteId, chat.chatId, chat.token)).body.messages
		).all();
		expect(server.slice(0, 7)).toEqual(before);
		expect(server.map((m) => m.content).slice(7)).toEqual([
			"after the nap",
			"still here",
			"me too",
		]);
		expect(visitor.log.all()).toEqual(server);
		expect(agent.log.all()).toEqual(server);
	});
});
