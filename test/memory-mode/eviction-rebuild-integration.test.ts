import { abortAllDurableObjects } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { poll } from "../helpers.ts";
import { converse, expectSameChat, serverMessages, visitorAndAgent } from "../clients.ts";

describe("eviction in memory mode", () => {
	it("loses the chat; visitor and agent rebuild it with every message once, in order, unchanged", async () => {
		const { siteId, visitor, agent, agentToken, calls } = await visitorAndAgent();
		await converse(visitor, agent, 5);
		const before = visitor.messages;
		expect(before).toHaveLength(11); // 5 + 5 + the agent's join notice
		expectSameChat(before, agent.messages, await serverMessages(siteId, visitor.chatId, agentToken));

		await abortAllDurableObjects();

		// The room has nothing: any call now is answered code 1 with -1/-1 and applies nothing.
		const probe = await poll(siteId, visitor.chatId, agentToken, [5, 6]);
		expect(probe.body).toEqual({ code: 1, visitorDataOffset: -1, agentDataOffset: -1, messages: [] });

		calls.length = 0;
		await visitor.send("are you still there?");
		expect(calls.map((c) => [c.path, c.code])).toEqual([
			["/messages", 1],
			["/rebuild", 0],
			["/messages", 0],
		]);
		expect(calls[0]!.offsets).toEqual([-1, -1]);
		expect(calls[1]!.uploaded).toBe(11);

		await agent.poll();
		await agent.send("yes, still here");
		await visitor.poll();

		const server = await serverMessages(siteId, visitor.chatId, agentToken);
		expectSameChat(visitor.messages, agent.messages, server);
		expect(server).toHaveLength(13);
		// The originals came back exactly as they were accepted: ids, send times, offsets, macs.
		expect(server.slice(0, 11)).toEqual(before);
	});

	it("is rebuilt the same way whichever client comes back first", async () => {
		for (const agentFirst of [false, true]) {
			const { siteId, visitor, agent, agentToken } = await visitorAndAgent();
			await converse(visitor, agent, 3);
			const before = visitor.messages;
			await abortAllDurableObjects();
			const [first, second] = agentFirst ? [agent, visitor] : [visitor, agent];
			await Promise.all([first.send("first back"), second.send("second back")]);
			await Promise.all([visitor.poll(), agent.poll()]);
			const server = await serverMessages(siteId, visitor.chatId, agentToken);
			expectSameChat(visitor.messages, agent.messages, server);
			expect(server).toHaveLength(before.length + 2);
			expect(server.filter((m) => before.some((b) => b.id === m.id))).toEqual(before);
		}
	});
});
