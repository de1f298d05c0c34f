/** History reads back what persistence wrote: an agent's own chats (a supervisor's whole site), newest end first, a page at a time. */
import { expect, it } from "vitest";
import {
	accept,
	api,
	createAgent,
	createSite,
	send,
	startChat,
} from "../helpers.ts";
import { countOf, endChat, persisted } from "../queue-helpers.ts";

/** Alice and Bob on a site that routes by hand: each chat goes to the agent that accepts it (in auto mode an accept makes the agent online, and the next chat would be routed to it). */
async function aliceAndBob() {
	const siteId = await createSite({
		routing: { mode: "manual", sticky: false },
	});
	const alice = await createAgent(siteId, "Alice");
	const bob = await createAgent(siteId, "Bob");
	return { siteId, alice, bob };
}

/** Chats, each accepted by its agent, answered, ended by the visitor and persisted: their ids in that order. */
async function endedChats(
	siteId: string,
	chats: {
		visitor: Record<string, unknown>;
		agent: { token: string };
		said: string;
	}[]
) {
	const ended: string[] = [];
	for (const { visitor, agent, said } of chats) {
		const chat = await startChat(siteId, visitor);
		await accept(siteId, chat.chatId, agent.token);
		await send(siteId, chat.chatId, agent.token, [0, 0], said);
		expect((await endChat(siteId, chat.chatId, chat.token)).status).toBe(200);
		ended.push(chat.chatId);
	}
	for (const chatId of ended) await persisted(chatId);
	return ended;
}

it(
	"pages through an agent's persisted chats and shows none of another agent's",
	{ timeout: 30_000 },
	async () => {
		const { siteId, alice, bob } = await aliceAndBob();
		const ended = await endedChats(
			siteId,
			[alice, alice, bob, alice].map((agent, i) => ({
				visitor: { name: `Visitor ${i}` },
				agent,
				said: `hello ${i}`,
			}))
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
			await countOf(
				`SELECT COUNT(*) AS n FROM chat_agents WHERE site_id = ?`,
				siteId
			)
		).toBe(4);
	}
);

it(
	"finds an agent's chats by words in the visitor's name, email or messages (?q=), taking % and _ literally",
	{ timeout: 30_000 },
	async () => {
		const siteId = await createSite();
		const alice = await createAgent(siteId, "Alice");
		const ended = await endedChats(
			siteId,
			(
				[
					["Olga", "my parcel is late"],
					["Pavel", "refund 100% please"],
					["Quinn", "hello"],
				] as const
			).map(([name, said]) => ({
				visitor: { name, email: `${name.toLowerCase()}@example.com` },
				agent: alice,
				said,
			}))
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
		const { siteId, alice, bob } = await aliceAndBob();
		const sue = await createAgent(siteId, "Sue", { role: "supervisor" });
		const ended = await endedChats(
			siteId,
			[alice, bob].map((agent, i) => ({
				visitor: { name: `Visitor ${i}` },
				agent,
				said: `answer ${i}`,
			}))
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
