/** SPEC §3 chains, as the room checks them: a history that differs below equal offsets is found in one call. */
import { describe, expect, it } from "vitest";
import { chainStep } from "../durable-objects/chat-chain.ts";
import { api, createSite, json, send, startChat } from "./helpers.ts";
import { TestSocket } from "./sockets.ts";

async function chainOf(ids: string[]): Promise<string> {
	let chain = "";
	for (const id of ids) chain = await chainStep(chain, id);
	return chain;
}

describe("stream chains in the room", () => {
	it("answers code 1 with diverged when the caller's chain differs at its offset, and accepts a matching one", async () => {
		const siteId = await createSite();
		const chat = await startChat(siteId);
		const ids: string[] = [];
		for (let i = 0; i < 3; i++)
			ids.push(
				(
					await send(siteId, chat.chatId, chat.token, [i, 0], `m${i}`)
				).body.messages.at(-1)!.id
			);
		const path = `/sites/${siteId}/chats/${chat.chatId}/messages`;
		const call = (chain: string, offsets: [number, number] = [3, 0]) =>
			api(path, {
				token: chat.token,
				offsets,
				headers: { "X-Visitor-Chain": chain },
			}).then((r) => r.json<{ code: number; diverged?: string[] }>());

		expect(await call(await chainOf(ids))).toMatchObject({ code: 0 });
		expect(await call(await chainOf(ids.slice(0, 2)), [2, 0])).toMatchObject({
			code: 0,
		});
		// Same offset, another message at place 2: found at once, though the offsets agree.
		const other = await chainOf([ids[0]!, crypto.randomUUID(), ids[2]!]);
		expect(await call(other)).toEqual({
			code: 1,
			visitorDataOffset: 3,
			agentDataOffset: 0,
			messages: [],
			diverged: ["visitor"],
		});
		// Nothing is applied when the chains differ.
		const refused = await api(path, {
			method: "POST",
			token: chat.token,
			offsets: [3, 0],
			headers: { "X-Visitor-Chain": other },
			body: json({ id: crypto.randomUUID(), content: "x" }),
		});
		expect(await refused.json()).toMatchObject({
			code: 1,
			diverged: ["visitor"],
		});
		expect(await call(await chainOf(ids))).toMatchObject({
			code: 0,
			visitorDataOffset: 3,
		});
		// A malformed chain is a 400.
		expect(
			(
				await api(path, {
					token: chat.token,
					offsets: [3, 0],
					headers: { "X-Visitor-Chain": "short" },
				})
			).status
		).toBe(400);
	});

	it("tells a socket to rebuild the stream that diverged", async () => {
		const siteId = await createSite();
		const chat = await startChat(siteId);
		await send(siteId, chat.chatId, chat.token, [0, 0], "one");
		const socket = await TestSocket.open(siteId, chat.chatId);
		socket.send({
			type: "hello",
			token: chat.token,
			visitorDataOffset: 1,
			agentDataOffset: 0,
			visitorChain: await chainOf([crypto.randomUUID()]),
		});
		expect(await socket.next((f) => f.type === "rebuild")).toEqual({
			type: "rebuild",
			visitorDataOffset: 1,
			agentDataOffset: 0,
			diverged: ["visitor"],
		});
	});
});
