/**
 * An object first woken without its name (its alarm after a deployment restarted, a stub made from an id)
 * has no `ctx.id.name` for as long as it lives. The chaos run found every socket refused with 426 after
 * such a wake: the Worker now names the object on each socket it hands over (OBJECT_NAME_HEADER).
 */
import { abortAllDurableObjects, env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { chatRoom, siteDispatcher } from "../durable-objects/room-contract.ts";
import { AgentConsole } from "./consoles.ts";
import { createAgent, createSite, startChat } from "./helpers.ts";
import { TestSocket } from "./sockets.ts";

/** The same object through a stub that carries no name, as the runtime's alarm after a restart reaches it. */
function nameless<T extends Rpc.DurableObjectBranded | undefined>(
	namespace: DurableObjectNamespace<T>,
	named: DurableObjectStub<T>
) {
	return namespace.get(namespace.idFromString(named.id.toString()));
}

describe("an object woken without its name", () => {
	it("still takes a chat's sockets", async () => {
		const siteId = await createSite();
		const chat = await startChat(siteId);
		await abortAllDurableObjects();
		const room = nameless(env.CHAT_ROOM, chatRoom(env, siteId, chat.chatId));
		expect(await room.claimOf("nobody")).toBeDefined();

		const socket = await TestSocket.hello(
			siteId,
			chat.chatId,
			chat.token,
			[0, 0]
		);
		expect(socket.frames.some((f) => f.type === "error")).toBe(false);
		socket.close();
	});

	it("still takes the site's consoles", async () => {
		const siteId = await createSite();
		const alice = await createAgent(siteId, "Alice");
		await abortAllDurableObjects();
		const dispatcher = nameless(
			env.SITE_DISPATCHER,
			siteDispatcher(env, siteId)
		);
		expect(await dispatcher.waitingList()).toEqual([]);

		const console = await AgentConsole.open(siteId, alice.token);
		expect(console.closed).toBe(false);
		console.close();
	});
});
