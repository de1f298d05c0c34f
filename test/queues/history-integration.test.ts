/** History reads back what persistence wrote: an agent's own chats (a supervisor's whole site), newest end first, a page at a time. */
import { env } from "cloudflare:test";
import { expect, it } from "vitest";
import { chatEndId } from "../../queues/publisher.ts";
import {
	accept,
	api,
	createAgent,
	createSite,
	send,
	startChat,
} from "../helpers.ts";
import { deliveryState, endChat, waitFor } from "../queue-helpers.ts";

it(
	"pages through an agent's persisted chats and shows none of another agent's",
	{ timeout: 30_000 },
	async () => {
		// Manual routing: each chat goes to the agent that accepts it (in auto mode an accept makes the agent online, and the next chat would be routed to it).
		const siteId = await createSite({
			routing: { mode: "manual", sticky: false },
		});
		const alice = await createAgent(siteId, "Alice");
		const bob = await createAgent(siteId, "Bob");
		const ended: string[] = [];
		for (const [i, agent] of [alice, alice, bob, alice].entries()) {
			const chat = await startChat(siteId, { name: `Visitor ${i}` });
			await accept(siteId, chat.chatId, agent.token);
			await send(siteId, chat.chatId, agent.token, [0, 0], `hello ${i}`);
			expect((await endChat(siteId, chat.chatId, chat.token)).status).toBe(200);
			ended.push(chat.chatId);
		}
		for (const chatId of ended)
			await waitFor(
				chatId,
				async () =>
					(await deliveryState(`chat.end.persistence:${chatEndId(chatId)}`))
						?.state === "done"
			);

		const page = async (token: string, query: string) => {
			const res = await api(`/sites/${siteId}/history/chats${query}`, {
				token,
			});
			return {
				status: res.status,
				body: await res.json<{
					chats: { chatId: string; visitor: { name: string } }[];
					next: string | null;
				}>(),
			};
		};
		const first = await page(alice.token, "?limit=2");
		expect(first.body.chats.map((c) => c.chatId)).toEqual([ended[3], ended[1]]);
		const second = await page(
			alice.token,
			`?limit=2&before=${first.body.next}`
		);
		expect(second.body).toEqual({
			chats: [
				expect.objectContaining({
					chatId: ended[0],
					visitor: { name: "Visitor 0", email: null },
				}),
			],
			next: null,
		});
		expect((await page(bob.token, "")).body.chats.map((c) => c.chatId)).toEqual(
			[ended[2]]
		);
		expect(
			(
				await api(`/sites/${siteId}/history/chats/${ended[2]}`, {
					token: alice.token,
				})
			).status
		).toBe(404);
		for (const bad of [
			"?limit=0",
			"?limit=101",
			"?limit=x",
			"?before=yesterday",
		])
			expect((await page(alice.token, bad)).status, bad).toBe(400);
		// Another site's agent sees nothing here, even with a chat id in hand.
		const elsewhere = await createAgent(await createSite(), "Eve");
		expect(
			(
				await api(`/sites/${siteId}/history/chats/${ended[0]}`, {
					token: elsewhere.token,
				})
			).status
		).toBe(403);
		expect(
			await env.DB.prepare(
				`SELECT COUNT(*) AS n FROM chat_agents WHERE site_id = ?`
			)
				.bind(siteId)
				.first<number>("n")
		).toBe(4);
	}
);

it(
	"finds an agent's chats by words in the visitor's name, email or messages (?q=), taking % and _ literally",
	{ timeout: 30_000 },
	async () => {
		const siteId = await createSite();
		const alice = await createAgent(siteId, "Alice");
		const ended: string[] = [];
		for (const [name, said] of [
			["Olga", "my parcel is late"],
			["Pavel", "refund 100% please"],
			["Quinn", "hello"],
		] as const) {
			const chat = await startChat(siteId, {
				name,
				email: `${name.toLowerCase()}@example.com`,
			});
			await accept(siteId, chat.chatId, alice.token);
			await send(siteId, chat.chatId, alice.token, [0, 0], said);
			expect((await endChat(siteId, chat.chatId, chat.token)).status).toBe(200);
			ended.push(chat.chatId);
		}
		for (const chatId of ended)
			await waitFor(
				chatId,
				async () =>
					(await deliveryState(`chat.end.persistence:${chatEndId(chatId)}`))
						?.state === "done"
			);
		const found = async (q: string) => {
			const res = await api(
				`/sites/${siteId}/history/chats?q=${encodeURIComponent(q)}`,
				{ token: alice.token }
			);
			expect(res.status).toBe(200);
			return (await res.json<{ chats: { chatId: string }[] }>()).chats.map(
				(c) => c.chatId
			);
		};
		expect(await found("PARCEL")).toEqual([ended[0]]);
		expect(await found("pavel@")).toEqual([ended[1]]);
		expect(await found("quinn")).toEqual([ended[2]]);
		expect(await found("100%")).toEqual([ended[1]]);
		expect(await found("%")).toEqual([ended[1]]);
		expect(await found("nobody said this")).toEqual([]);
		expect(
			(
				await api(`/sites/${siteId}/history/chats?q=${"x".repeat(101)}`, {
					token: alice.token,
				})
			).status
		).toBe(400);
	}
);

it(
	"shows a supervisor every persisted chat of its site, and an agent still only its own",
	{ timeout: 30_000 },
	async () => {
		const siteId = await createSite({
			routing: { mode: "manual", sticky: false },
		});
		const alice = await createAgent(siteId, "Alice");
		const bob = await createAgent(siteId, "Bob");
		const sue = await createAgent(siteId, "Sue", { role: "supervisor" });
		const ended: string[] = [];
		for (const [i, agent] of [alice, bob].entries()) {
			const chat = await startChat(siteId, { name: `Visitor ${i}` });
			await accept(siteId, chat.chatId, agent.token);
			await send(siteId, chat.chatId, agent.token, [0, 0], `answer ${i}`);
			expect((await endChat(siteId, chat.chatId, chat.token)).status).toBe(200);
			ended.push(chat.chatId);
		}
		for (const chatId of ended)
			await waitFor(
				chatId,
				async () =>
					(await deliveryState(`chat.end.persistence:${chatEndId(chatId)}`))
						?.state === "done"
			);

		const list = async (token: string, query = "") =>
			await (
				await api(`/sites/${siteId}/history/chats${query}`, { token })
			).json<{ chats: { chatId: string }[]; next: string | null }>();
		expect((await list(sue.token)).chats.map((c) => c.chatId)).toEqual([
			ended[1],
			ended[0],
		]);
		const first = await list(sue.token, "?limit=1");
		expect(first.chats.map((c) => c.chatId)).toEqual([ended[1]]);
		expect(
			(await list(sue.token, `?limit=1&before=${first.next}`)).chats.map(
				(c) => c.chatId
			)
		).toEqual([ended[0]]);
		expect(
			(await list(sue.token, "?q=answer%200")).chats.map((c) => c.chatId)
		).toEqual([ended[0]]);
		const transcript = await api(`/sites/${siteId}/history/chats/${ended[0]}`, {
			token: sue.token,
		});
		expect(transcript.status).toBe(200);
		expect(
			(
				await transcript.json<{ messages: { content: string }[] }>()
			).messages.map((m) => m.content)
		).toContain("answer 0");
		// Agents are unchanged: Alice sees her chat, not Bob's.
		expect((await list(alice.token)).chats.map((c) => c.chatId)).toEqual([
			ended[0],
		]);
		expect(
			(
				await api(`/sites/${siteId}/history/chats/${ended[1]}`, {
					token: alice.token,
				})
			).status
		).toBe(404);
		// A supervisor of another site sees none of them.
		const other = await createAgent(await createSite(), "Sam", {
			role: "supervisor",
		});
		expect(
			(
				await api(`/sites/${siteId}/history/chats/${ended[0]}`, {
					token: other.token,
				})
			).status
		).toBe(403);
	}
);
