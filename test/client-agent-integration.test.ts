import { env } from "cloudflare:test";
import { afterEach, describe, expect, it, vi } from "vitest";
import { MemoryStore } from "../client/index.ts";
import { fromBase64url } from "../src/security/encoding.ts";
import { Console, disconnectAll, visitorChat } from "./agent-clients.ts";
import { socketOpener, until } from "./client-helpers.ts";
import { expectSameAsServer } from "./clients.ts";
import { api, createSite, json } from "./helpers.ts";

afterEach(disconnectAll);

describe("AgentClient", () => {
	it("logs in, comes online over its socket, is assigned a new chat (auto routing) and answers in it through the chat's client", async () => {
		const siteId = await createSite();
		const alice = await Console.login(siteId, "Alice");
		expect(alice.client.connectionState).toBe("websocket");
		expect(alice.client.agent).toMatchObject({
			name: "Alice",
			role: "agent",
			maxChats: 5,
		});
		expect(
			(await alice.client.agents()).map((a) => [a.name, a.status])
		).toEqual([["Alice", "online"]]);
		await until(
			() => alice.of("presence").length > 0 && alice.of("queue").length > 0,
			"the dispatcher's first presence and queue"
		);

		const { visitor, events } = await visitorChat(siteId);
		const chat = await alice.assigned(visitor.chatId);
		expect(alice.client.chats.get(visitor.chatId)).toBe(chat);
		await chat.send("Hello, how can I help?");
		await visitor.send("my order is late");
		await until(
			() => chat.messages.some((m) => m.content === "my order is late"),
			"the visitor's message on the agent's socket"
		);

		await visitor.poll();
		expect(visitor.messages.map((m) => m.content)).toEqual([
			"Alice joined the chat",
			"Hello, how can I help?",
			"my order is late",
		]);
		await expectSameAsServer(siteId, visitor, chat.messages);
		expect(visitor.status).toBe("chatting");
		expect(events).toContainEqual({ type: "status", status: "chatting" });
	});

	it("accepts a waiting chat in manual mode; the visitors see their places in the queue move; a second accept is 409", async () => {
		const siteId = await createSite({
			routing: { mode: "manual", sticky: false },
		});
		const alice = await Console.login(siteId, "Alice");
		const bob = await Console.login(siteId, "Bob");
		const first = await visitorChat(siteId, { name: "First" });
		const second = await visitorChat(siteId, { name: "Second" });
		expect([
			first.visitor.status,
			first.visitor.queuePosition,
			second.visitor.queuePosition,
		]).toEqual(["waiting", 1, 2]);
		// Nothing is routed in manual mode: the consoles see the queue.
		await until(
			() => alice.of("queue").at(-1)?.waiting.length === 2,
			"the queue with both chats"
		);
		expect(
			(await alice.client.queue()).map((q) => [
				q.chatId,
				q.visitorName,
				q.position,
			])
		).toEqual([
			[first.visitor.chatId, "First", 1],
			[second.visitor.chatId, "Second", 2],
		]);
		expect(alice.of("assigned")).toEqual([]);

		const chat = await alice.client.accept(first.visitor.chatId);
		expect(alice.client.chats.get(first.visitor.chatId)).toBe(chat);
		await expect(bob.client.accept(first.visitor.chatId)).rejects.toMatchObject(
			{ status: 409, type: "conflict" }
		);
		expect(bob.client.chats.size).toBe(0);
		await chat.send("Hi, I'm Alice");

		await first.visitor.poll();
		expect(first.visitor.messages.map((m) => m.content)).toEqual([
			"Alice joined the chat",
			"Hi, I'm Alice",
		]);
		expect([first.visitor.status, first.visitor.queuePosition]).toEqual([
			"chatting",
			undefined,
		]);
		expect(first.events).toContainEqual({ type: "status", status: "chatting" });
		// The second visitor moves up to first place: a poll says so once the dispatcher has told its room.
		await until(async () => {
			await second.visitor.poll();
			return second.visitor.queuePosition === 1;
		}, "the second visitor's first place");
		expect(second.events).toContainEqual({
			type: "status",
			status: "waiting",
			queuePosition: 1,
		});
	});

	it("transfers a chat to a second AgentClient, which reads the whole history and answers; the first lets it go", async () => {
		const siteId = await createSite({
			routing: { mode: "manual", sticky: false },
		});
		const alice = await Console.login(siteId, "Alice");
		const bob = await Console.login(siteId, "Bob");
		const { visitor } = await visitorChat(siteId);
		const aliceChat = await alice.client.accept(visitor.chatId);
		await visitor.send("my order is late");
		await aliceChat.poll();
		await aliceChat.send("let me hand you to our shipping expert");

		await alice.client.transfer(visitor.chatId, bob.client.agent.id);
		expect(alice.client.chats.has(visitor.chatId)).toBe(false);
		expect(alice.find("released", visitor.chatId)).toMatchObject({
			reason: "transferred",
		});
		const bobChat = await bob.assigned(visitor.chatId);
		await until(
			() => bobChat.messages.length === 4,
			"the whole history on Bob's side"
		);
		expect(bobChat.messages.map((m) => m.content)).toEqual([
			"Alice joined the chat",
			"my order is late",
			"let me hand you to our shipping expert",
			"Alice transferred the chat to Bob",
		]);
		await bobChat.send("Bob here: it ships tomorrow");
		await visitor.poll();
		await until(
			() => bobChat.messages.length === 5,
			"Bob's own message in his copy"
		);
		await expectSameAsServer(siteId, visitor, bobChat.messages);
		// Alice is out of the chat now.
		await expect(aliceChat.send("still me")).rejects.toMatchObject({
			status: 403,
			type: "not_in_chat",
		});
		expect(
			(await bob.client.agents()).find((a) => a.name === "Bob")
		).toMatchObject({ status: "online", free: 4 });
	});

	it("brings a returning visitor's next chat back to the same agent: the client keeps the visitorState its chat refreshed", async () => {
		const siteId = await createSite({
			routing: { mode: "auto", sticky: true },
		});
		const alice = await Console.login(siteId, "Alice", { maxChats: 2 });
		const store = new MemoryStore(); // the visitor's browser storage
		const first = await visitorChat(siteId, { store, socket: true });
		const initial = first.visitor.visitorState;
		expect(initial).toBeTypeOf("string");
		await first.visitor.connect();
		await alice.assigned(first.visitor.chatId);
		// The room hands the visitor a refreshed state naming Alice (a `state` frame on its socket), and the store keeps it.
		await until(
			() =>
				first.events.some(
					(e) => e.type === "visitorState" && e.visitorState !== initial
				),
			"the refreshed visitorState"
		);
		expect(first.visitor.visitorState).not.toBe(initial);
		expect(await store.loadValue(`visitorState:${siteId}`)).toBe(
			first.visitor.visitorState
		);
		await first.visitor.end();

		// Bob has far more room than Alice, yet the returning visitor's chat goes to Alice.
		const bob = await Console.login(siteId, "Bob", { maxChats: 10 });
		const second = await visitorChat(siteId, { store });
		await alice.assigned(second.visitor.chatId);
		expect(bob.of("assigned")).toEqual([]);
		expect(visitorIdOf(second.visitor.token)).toBe(
			visitorIdOf(first.visitor.token)
		);
		// A visitor without the state goes to the agent with the most room.
		const stranger = await visitorChat(siteId);
		await bob.assigned(stranger.visitor.chatId);
	});

	it("takes a presence socket that went silent (not even a pong) for dead after two pings, and opens another", async () => {
		const siteId = await createSite();
		const muffled: Muffled[] = [];
		const opener = socketOpener();
		const openSocket = async (url: string) => {
			const socket = new Muffled(await opener(url));
			muffled.push(socket);
			return socket as unknown as WebSocket;
		};
		// The client's pings and its sense of how long it has heard nothing are driven by the test, so a pong
		// that is slow to come on a loaded machine is not taken for silence (nothing else uses intervals).
		vi.useFakeTimers({ toFake: ["setInterval", "clearInterval", "Date"] });
		try {
			const alice = await Console.login(siteId, "Alice", {
				openSocket,
				pingMs: 100,
			});
			for (let ping = 1; ping <= 3; ping++) {
				vi.advanceTimersByTime(100);
				await until(() => muffled[0]!.pongs === ping, `pong ${ping}`);
			}
			expect(muffled).toHaveLength(1); // pings answered: the socket stays
			muffled[0]!.silent = true; // a proxy that drops the connection without closing it
			vi.advanceTimersByTime(200); // two pings unanswered: still within the grace
			expect(muffled).toHaveLength(1);
			vi.advanceTimersByTime(100);
			await until(
				() =>
					muffled.length === 2 && alice.client.connectionState === "websocket",
				"a second presence socket"
			);
			expect(
				(await alice.client.agents()).map((a) => [a.name, a.status])
			).toEqual([["Alice", "online"]]);
		} finally {
			vi.useRealTimers();
		}
	});

	it("stops, and says so, once its token is revoked: no reconnecting with a token that cannot work", async () => {
		const siteId = await createSite();
		const alice = await Console.login(siteId, "Alice");
		const changed = await api(
			`/admin/sites/${siteId}/agents/${alice.client.agent.id}`,
			{
				method: "PATCH",
				token: env.ADMIN_TOKEN,
				body: json({ password: "a brand new password" }),
			}
		);
		expect(changed.status).toBe(200);
		// The revocation closes the console's socket at once (4401), idle as it is.
		await until(
			() => alice.of("error").some((e) => e.error.type === "unauthorized"),
			"the unauthorized event"
		);
		// The client disconnects itself before it reports the refusal: its presence loop is over, nothing reconnects.
		expect(alice.client.connectionState).toBe("off");
		expect(alice.sockets).toHaveLength(1);
	});

	it("stays present by HTTP heartbeat where sockets are blocked, and finds the chats routed to it there", async () => {
		const siteId = await createSite();
		const blocked = async (): Promise<WebSocket> => {
			throw new Error("WebSockets are blocked here");
		};
		const alice = await Console.login(siteId, "Alice", {
			openSocket: blocked,
			heartbeatMs: 200,
		});
		expect(alice.client.connectionState).toBe("heartbeat");
		expect(
			(await alice.client.agents()).map((a) => [a.name, a.status])
		).toEqual([["Alice", "online"]]);
		const { visitor } = await visitorChat(siteId);
		const chat = await alice.assigned(visitor.chatId);
		await chat.send("Hello from a console without a socket");
		await visitor.poll();
		expect(visitor.messages.map((m) => m.content)).toEqual([
			"Alice joined the chat",
			"Hello from a console without a socket",
		]);
	});
});

const visitorIdOf = (token: string) =>
	(
		JSON.parse(
			new TextDecoder().decode(fromBase64url(token.split(".")[1]!))
		) as { sub: string }
	).sub;

/** A socket behind a proxy that may go silent: nothing in or out, and no close either. */
class Muffled extends EventTarget {
	silent = false;
	/** Pongs passed on to the client. */
	pongs = 0;

	constructor(private readonly ws: WebSocket) {
		super();
		ws.addEventListener("message", (event) => {
			if (this.silent) return;
			if (event.data === "pong") this.pongs++;
			this.dispatchEvent(new MessageEvent("message", { data: event.data }));
		});
		ws.addEventListener(
			"close",
			(event) =>
				this.silent ||
				this.dispatchEvent(new CloseEvent("close", { code: event.code }))
		);
	}

	send(data: string): void {
		if (!this.silent) this.ws.send(data);
	}

	close(code?: number): void {
		this.ws.close(code);
	}
}
