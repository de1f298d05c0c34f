import { describe, expect, it } from "vitest";
import {
	converse,
	expectSameChat,
	serverMessages,
	visitorAndAgent,
} from "../clients.ts";
import { rollBack } from "../lose-chat.ts";

describe("storage restored to an earlier point", () => {
	it("is brought forward by an incremental rebuild of exactly the missing messages", async () => {
		const { siteId, visitor, agent, agentToken, calls } =
			await visitorAndAgent();
		await converse(visitor, agent, 5);
		await rollBack(siteId, visitor.chatId, 2);

		calls.length = 0;
		await agent.send("after the restore");
		expect(calls.map((c) => [c.path, c.code, c.offsets])).toEqual([
			["/messages", 1, [3, 4]],
			["/rebuild", 0, [5, 6]],
			["/messages", 0, [5, 7]],
		]);
		expect(calls[1]!.uploaded).toBe(4);

		await visitor.poll();
		expectSameChat(
			visitor.messages,
			agent.messages,
			await serverMessages(siteId, visitor.chatId, agentToken)
		);
	});
});
