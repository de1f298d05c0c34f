/** SPEC §7: the SiteDispatcher routes chats (auto, sticky, manual accepts, capacity) and drains its queue in order. */
import { describe, expect, it } from "vitest";
import { myChats, online, queue, routedTo } from "./dispatch.ts";
import {
	accept,
	createAgent,
	createSite,
	eventually,
	poll,
	send,
	startChat,
} from "./helpers.ts";
import { endChat } from "./queue-helpers.ts";
import {
	invite,
	pageSocket,
	startWith as startTracked,
	visit,
} from "./visitors.ts";
import type { StartChatResult } from "../src/protocol/chat.ts";

const sameMembers = (a: string[], b: string[]) =>
	a.length === b.length && a.every((x) => b.includes(x));

/** A returning visitor's chat, started with the visitorState it kept. */
async function startWith(
	siteId: string,
	visitorState: string
): Promise<StartChatResult> {
	const { status, body } = await startTracked(siteId, visitorState);
	expect(status).toBe(201);
	return body;
}

describe("SiteDispatcher: routing", () => {
	it("auto mode gives each new chat to the online agent with the most free capacity, with a system message and chatState", async () => {
		const siteId = await createSite();
		const alice = await createAgent(siteId, "Alice", { maxChats: 3 });
		const bob = await createAgent(siteId, "Bob", { maxChats: 3 });
		await online(siteId, alice.token);
		const first = await startChat(siteId);
		expect(await routedTo(siteId, alice.token, 1)).toEqual([first.chatId]);
		await online(siteId, bob.token);
		// Bob has 3 free, Alice 2: Bob gets the next two (then they are equal and Bob waited less), Alice the one after.
		const second = await startChat(siteId);
		expect(await routedTo(siteId, bob.token, 1)).toEqual([second.chatId]);
		const third = await startChat(siteId);
		await routedTo(siteId, alice.token, 2);
		expect(await myChats(siteId, alice.token)).toEqual([
			first.chatId,
			third.chatId,
		]);

		// The room added the agent: it may read and send, the visitor sees the system message and the chat is chatting.
		const seen = await poll(siteId, first.chatId, first.token);
		expect(seen.body.status).toBe("chatting");
		expect(seen.body.messages.map((m) => [m.type, m.content])).toEqual([
			[4, "Alice joined the chat"],
		]);
		expect(
			(
				await send(
					siteId,
					first.chatId,
					alice.token,
					[0, 1],
					"Hello, how can I help?"
				)
			).status
		).toBe(200);
	});

	it("sticky routing brings a returning visitor back to its last agent, and falls back when that agent is offline or full", async () => {
		const siteId = await createSite({
			routing: { mode: "auto", sticky: true },
		});
		const alice = await createAgent(siteId, "Alice", { maxChats: 2 });
		const bob = await createAgent(siteId, "Bob", { maxChats: 5 });
		await online(siteId, alice.token);
		const first = await startChat(siteId);
		await routedTo(siteId, alice.token, 1);
		// The visitor learns its last agent from the refreshed visitorState of its chat.
		const { body } = await poll(siteId, first.chatId, first.token);
		expect(body.visitorState).toBeTypeOf("string");
		// It is the visitor's: the agent's answers never carry it.
		expect(
			(await poll(siteId, first.chatId, alice.token)).body.visitorState
		).toBeUndefined();
		await online(siteId, bob.token); // Bob has far more room, but the visitor comes back to Alice
		const back = await startWith(siteId, body.visitorState!);
		expect(back.visitorId).toBe(first.visitorId);
		await routedTo(siteId, alice.token, 2);
		expect(await myChats(siteId, alice.token)).toContain(back.chatId);
		// Alice is full now: the same visitor's next chat goes to Bob.
		const full = await startWith(siteId, body.visitorState!);
		expect(await routedTo(siteId, bob.token, 1)).toEqual([full.chatId]);
		// Alice goes offline: the next one goes to Bob too.
		await online(siteId, alice.token, "offline");
		const offline = await startWith(siteId, body.visitorState!);
		expect(await routedTo(siteId, bob.token, 2)).toContain(offline.chatId);
	});

	it("gives a chat that answers an invitation to the inviting agent while it is online with room, not to the agent with the most room", async () => {
		const siteId = await createSite({
			routing: { mode: "auto", sticky: false },
		});
		const alice = await createAgent(siteId, "Alice", { maxChats: 1 });
		const bob = await createAgent(siteId, "Bob", { maxChats: 5 });
		await online(siteId, alice.token);
		await online(siteId, bob.token);
		const invited = async () => {
			const visitor = await visit(siteId, { page: "/pricing" });
			const page = await pageSocket(siteId, visitor.visitorState);
			const sent = await invite(siteId, visitor.visitorId, alice.token, {
				message: "Can I help you choose a plan?",
			});
			expect(sent.status).toBe(200);
			await page.next((f) => f.type === "invitation");
			return visitor;
		};

		const first = await invited();
		const answer = await startWith(siteId, first.visitorState);
		expect(await routedTo(siteId, alice.token, 1)).toEqual([answer.chatId]);
		expect(await myChats(siteId, bob.token)).toEqual([]);
		// Not once Alice is full: the next answer goes by the usual rule.
		const second = await invited();
		const late = await startWith(siteId, second.visitorState);
		expect(await routedTo(siteId, bob.token, 1)).toEqual([late.chatId]);
	});

	it("manual mode leaves chats waiting; of two agents accepting at once exactly one wins, the other gets 409", async () => {
		const siteId = await createSite({
			routing: { mode: "manual", sticky: false },
		});
		const alice = await createAgent(siteId, "Alice");
		const bob = await createAgent(siteId, "Bob");
		await online(siteId, alice.token);
		await online(siteId, bob.token);
		const chat = await startChat(siteId);
		expect(chat.status).toBe("waiting");
		expect(chat.queuePosition).toBe(1);
		const answers = await Promise.all([
			accept(siteId, chat.chatId, alice.token),
			accept(siteId, chat.chatId, bob.token),
		]);
		expect(answers.map((a) => a.status).sort()).toEqual([200, 409]);
		expect(answers.find((a) => a.status === 409)!.body.error?.type).toBe(
			"conflict"
		);
		const winner = answers[0]!.status === 200 ? alice : bob;
		const loser = winner === alice ? bob : alice;
		expect(await myChats(siteId, winner.token)).toEqual([chat.chatId]);
		expect(await myChats(siteId, loser.token)).toEqual([]);
		const { body } = await poll(siteId, chat.chatId, chat.token);
		expect(body.messages.filter((m) => m.type === 4)).toHaveLength(1);
		expect(await queue(siteId, alice.token)).toEqual([]);
	});

	it("refuses an accept beyond maxChats with 409 at_capacity, and changes nothing", async () => {
		const siteId = await createSite({
			routing: { mode: "manual", sticky: false },
		});
		const alice = await createAgent(siteId, "Alice", { maxChats: 1 });
		const [one, two] = [await startChat(siteId), await startChat(siteId)];
		expect((await accept(siteId, one.chatId, alice.token)).status).toBe(200);
		const refused = await accept(siteId, two.chatId, alice.token);
		expect(refused.status).toBe(409);
		expect(refused.body.error?.type).toBe("at_capacity");
		expect((await queue(siteId, alice.token)).map((q) => q.chatId)).toEqual([
			two.chatId,
		]);
		expect((await poll(siteId, two.chatId, two.token)).body.status).toBe(
			"waiting"
		);
	});

	it("drains a full queue in order as agents free up, and shows visitors their right position as it moves", async () => {
		const siteId = await createSite();
		const alice = await createAgent(siteId, "Alice", { maxChats: 1 });
		const chats: StartChatResult[] = [];
		for (let i = 0; i < 4; i++)
			chats.push(await startChat(siteId, { name: `Visitor ${i}` }));
		expect(chats.map((c) => c.queuePosition)).toEqual([1, 2, 3, 4]);
		await online(siteId, alice.token);
		// The oldest goes first; the others move up one place each.
		expect(await routedTo(siteId, alice.token, 1)).toEqual([chats[0]!.chatId]);
		const positions = async () =>
			Promise.all(
				chats
					.slice(1)
					.map(
						async (c) =>
							(await poll(siteId, c.chatId, c.token)).body.queuePosition
					)
			);
		expect(await eventually(positions, (p) => p.join() === "1,2,3")).toEqual([
			1, 2, 3,
		]);
		expect(
			(await queue(siteId, alice.token)).map((q) => [q.chatId, q.position])
		).toEqual(chats.slice(1).map((c, i) => [c.chatId, i + 1]));
		// Each end frees Alice for the next chat, oldest first.
		for (let i = 0; i < 3; i++) {
			const current = chats[i]!;
			const end = await endChat(siteId, current.chatId, current.token, [0, 1]);
			expect(end.status).toBe(200);
			expect(
				await eventually(
					() => myChats(siteId, alice.token),
					(c) => sameMembers(c, [chats[i + 1]!.chatId])
				)
			).toEqual([chats[i + 1]!.chatId]);
		}
		expect(await queue(siteId, alice.token)).toEqual([]);
	});
});
