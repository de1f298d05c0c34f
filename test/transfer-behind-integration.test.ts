/**
 * A transfer takes the agent out of the chat, and with it the only way its copy reaches the room. So a
 * room that lacks what the transferring agent holds (it sent on another deployment, or the room was
 * restored from an older copy) answers code 1 before it lets the agent go, and AgentClient uploads first.
 */
import { afterEach, describe, expect, it } from "vitest";
import { Console, disconnectAll, visitorChat } from "./agent-clients.ts";
import { until } from "./client-helpers.ts";
import { api, createSite, json, rebuild } from "./helpers.ts";
import { loseChat } from "./lose-chat.ts";
import type { AgentEvent } from "../client/index.ts";
import type { ReturnResult } from "../src/protocol/chat.ts";

afterEach(disconnectAll);

const online = (agentId: string) => (e: AgentEvent) =>
	e.type === "presence" &&
	e.agents.some((a) => a.id === agentId && a.status === "online");

/** Alice's chat with one message the room has lost: the visitor's copy, from before it, rebuilt the room. */
async function roomBehindAlice() {
	const siteId = await createSite({
		routing: { mode: "manual", sticky: false },
	});
	const alice = await Console.login(siteId, "Alice");
	const bob = await Console.login(siteId, "Bob");
	const { visitor } = await visitorChat(siteId);
	const aliceChat = await alice.client.accept(visitor.chatId);
	await aliceChat.send("first answer");
	await visitor.poll();
	const visitorCopy = {
		chatState: visitor.chatState,
		...visitor.offsets,
		messages: visitor.messages,
	};
	await aliceChat.send("the answer only Alice's copy will hold");
	aliceChat.disconnect();

	const before = bob.events.length;
	await loseChat(siteId, visitor.chatId);
	const back = await rebuild(
		siteId,
		visitor.chatId,
		visitor.token,
		visitorCopy
	);
	expect(back.status).toBe(200);
	await until(
		() => bob.events.slice(before).some(online(bob.client.agent.id)),
		"Bob online again after the restart"
	);
	return { siteId, alice, bob, visitor, aliceChat };
}

describe("a transfer from a room that lacks the agent's messages", () => {
	it("answers code 1 and hands nothing over while the agent's copy is ahead of the room", async () => {
		const { siteId, alice, bob, visitor, aliceChat } = await roomBehindAlice();
		const res = await api(`/sites/${siteId}/chats/${visitor.chatId}/transfer`, {
			method: "POST",
			token: alice.client.token,
			body: json({ toAgentId: bob.client.agent.id, ...aliceChat.offsets }),
		});
		expect(res.status).toBe(200);
		const body = await res.json<ReturnResult>();
		expect(body.code).toBe(1);
		expect(bob.find("assigned", visitor.chatId)).toBeUndefined();
		// Alice is still in the chat: her poll rebuilds the room.
		await aliceChat.poll();
		await visitor.poll();
		expect(visitor.messages.map((m) => m.content)).toContain(
			"the answer only Alice's copy will hold"
		);
	});

	it("AgentClient uploads first, then hands the chat over with every message", async () => {
		const { alice, bob, visitor } = await roomBehindAlice();
		await alice.client.transfer(visitor.chatId, bob.client.agent.id);
		const bobChat = await bob.assigned(visitor.chatId);
		await until(
			() =>
				bobChat.messages.some(
					(m) => m.content === "the answer only Alice's copy will hold"
				),
			"Alice's last answer in Bob's copy"
		);
	});
});

describe("AgentClient and a room that lost or left it", () => {
	it("lets go of a chat its room refuses it (taken out where no released frame reached this console), and claims it no more", async () => {
		const siteId = await createSite({
			routing: { mode: "manual", sticky: false },
		});
		const alice = await Console.login(siteId, "Alice");
		// Bob's console has no presence socket: the dispatcher cannot tell it anything.
		const bob = await Console.login(siteId, "Bob", { connect: false });
		const { visitor } = await visitorChat(siteId);
		const bobChat = await bob.client.accept(visitor.chatId);
		void bobChat.connect();
		await until(() => bobChat.realtime === "websocket", "Bob's chat socket");

		// Bob hands the chat to Alice from another device.
		const moved = await api(
			`/sites/${siteId}/chats/${visitor.chatId}/transfer`,
			{
				method: "POST",
				token: bob.client.token,
				body: json({ toAgentId: alice.client.agent.id }),
			}
		);
		expect(moved.status).toBe(200);
		await until(
			() => bob.find("released", visitor.chatId) !== undefined,
			"Bob's console to let the chat go"
		);
		expect(bob.find("released", visitor.chatId)).toMatchObject({
			reason: "stale",
		});
		expect(bob.client.chats.has(visitor.chatId)).toBe(false);
	});

	it("transfers a chat its room lost: the agent's own copy rebuilds the room first", async () => {
		const siteId = await createSite({
			routing: { mode: "manual", sticky: false },
		});
		const alice = await Console.login(siteId, "Alice");
		const bob = await Console.login(siteId, "Bob");
		const { visitor } = await visitorChat(siteId);
		const aliceChat = await alice.client.accept(visitor.chatId);
		await aliceChat.send("one moment, please");
		await aliceChat.flush();

		// Nothing rebuilds the room on its own: Alice's chat client is not connected.
		aliceChat.disconnect();
		const before = bob.events.length;
		await loseChat(siteId, visitor.chatId);
		// The abort closed the consoles too: Bob is back online (a transfer needs that) once his console said hello again.
		await until(
			() =>
				bob.events
					.slice(before)
					.some(
						(e) =>
							e.type === "presence" &&
							e.agents.some(
								(a) => a.id === bob.client.agent.id && a.status === "online"
							)
					),
			"Bob online again"
		);
		await alice.client.transfer(visitor.chatId, bob.client.agent.id);
		expect(alice.client.chats.has(visitor.chatId)).toBe(false);
		const bobChat = await bob.assigned(visitor.chatId);
		await until(
			() => bobChat.messages.some((m) => m.content === "one moment, please"),
			"Alice's message in Bob's copy"
		);
	});
});

describe("a transfer body", () => {
	it("answers 400 to malformed offsets, or only one of them, and hands nothing over", async () => {
		const siteId = await createSite({
			routing: { mode: "manual", sticky: false },
		});
		const alice = await Console.login(siteId, "Alice");
		const bob = await Console.login(siteId, "Bob");
		const { visitor } = await visitorChat(siteId);
		await alice.client.accept(visitor.chatId);
		for (const offsets of [
			{ visitorDataOffset: -1, agentDataOffset: 0 },
			{ visitorDataOffset: 1.5, agentDataOffset: 0 },
			{ visitorDataOffset: "0", agentDataOffset: 0 },
			{ agentDataOffset: 1 },
		]) {
			const res = await api(
				`/sites/${siteId}/chats/${visitor.chatId}/transfer`,
				{
					method: "POST",
					token: alice.client.token,
					body: json({ toAgentId: bob.client.agent.id, ...offsets }),
				}
			);
			expect(res.status, JSON.stringify(offsets)).toBe(400);
			expect((await res.json<{ error: { type: string } }>()).error.type).toBe(
				"invalid_request"
			);
		}
		expect(bob.find("assigned", visitor.chatId)).toBeUndefined();
		expect(alice.client.chats.has(visitor.chatId)).toBe(true);
	});
});
