/** The AgentClient's side of SPEC §7: the chats it claims, and signing out. */
import { afterEach, describe, expect, it } from "vitest";
import { storeKey } from "../client/chat-copy.ts";
import {
	AgentClient,
	LiveChatClient,
	LocalStorageStore,
	MemoryStore,
} from "../client/index.ts";
import { chatStorePrefix, endSession } from "../web/console/sign-out.ts";
import {
	agentAccount,
	Console,
	disconnectAll,
	PASSWORD,
	visitorChat,
} from "./agent-clients.ts";
import { fetchVia, socketOpener, until } from "./client-helpers.ts";
import {
	accept,
	api,
	BASE,
	createAgent,
	createSite,
	json,
	startChat,
} from "./helpers.ts";
import { TestSocket } from "./sockets.ts";
import type { AgentSummary } from "../src/protocol/dispatch.ts";

afterEach(disconnectAll);

describe("AgentClient: its chats are claims", () => {
	it("drops a chat that ended while it was away, from its chats and its store, once the dispatcher says its claim is stale", async () => {
		const siteId = await createSite();
		const store = new MemoryStore();
		const alice = await Console.login(siteId, "Alice", { store });
		const { visitor } = await visitorChat(siteId);
		const chat = await alice.assigned(visitor.chatId);
		await chat.send("Hello, how can I help?");
		await until(
			() => alice.client.chats.has(visitor.chatId),
			"the chat among the client's"
		);
		expect(await store.load(storeKey(siteId, visitor.chatId))).toBeDefined();

		// The console is closed while the visitor ends the chat: nobody tells it.
		alice.client.disconnect();
		await visitor.end();
		await alice.client.connect();

		await until(
			() => alice.find("released", visitor.chatId) !== undefined,
			"the release of the stale chat"
		);
		expect(alice.find("released", visitor.chatId)?.reason).toBe("stale");
		expect(alice.client.chats.has(visitor.chatId)).toBe(false);
		await until(
			() => alice.client.chats.size === 0,
			"no chat left in the client"
		);
		expect(await store.load(storeKey(siteId, visitor.chatId))).toBeUndefined();
	});
});

/** localStorage or sessionStorage, in a Map. */
class FakeStorage {
	readonly items = new Map<string, string>();
	get length() {
		return this.items.size;
	}
	key(index: number) {
		return [...this.items.keys()][index] ?? null;
	}
	getItem(key: string) {
		return this.items.get(key) ?? null;
	}
	setItem(key: string, value: string) {
		this.items.set(key, value);
	}
	removeItem(key: string) {
		this.items.delete(key);
	}
}

async function statusOf(siteId: string, token: string, name: string) {
	const { agents } = await (
		await api(`/sites/${siteId}/agents`, { token })
	).json<{ agents: AgentSummary[] }>();
	return agents.find((a) => a.name === name)?.status;
}

async function login(siteId: string, email: string): Promise<string> {
	const res = await api(`/sites/${siteId}/agent-sessions`, {
		method: "POST",
		body: json({ email, password: PASSWORD }),
	});
	return (await res.json<{ token: string }>()).token;
}

describe("AgentClient: signing out (SPEC §7)", () => {
	it("is offline at once, and its token is refused from then on; the agent's other sessions go on", async () => {
		const siteId = await createSite();
		const boss = await createAgent(siteId, "Boss", { role: "supervisor" });
		const alice = await Console.login(siteId, "Alice");
		expect(await statusOf(siteId, boss.token, "Alice")).toBe("online");
		const elsewhere = await login(siteId, await agentAccount(siteId, "Alicia"));

		await alice.client.signOut();
		expect(await statusOf(siteId, boss.token, "Alice")).toBe("offline");
		expect(await (await api(`/sites/${siteId}/availability`)).json()).toEqual({
			online: false,
			waiting: 0,
		});
		expect(alice.client.connectionState).toBe("off");
		const refused = await api(`/sites/${siteId}/queue`, {
			token: alice.client.token,
		});
		expect(refused.status).toBe(401);
		// Signing out again with it changes nothing.
		await alice.client.signOut();
		expect(
			(await api(`/sites/${siteId}/queue`, { token: elsewhere })).status
		).toBe(200);
	});

	it("lets a token sign out over HTTP alone: 204, then 401; a visitor's token may not", async () => {
		const siteId = await createSite();
		const email = await agentAccount(siteId, "Alice");
		const [first, second] = [
			await login(siteId, email),
			await login(siteId, email),
		];
		const signOut = (token: string) =>
			api(`/sites/${siteId}/agent-sessions/current`, {
				method: "DELETE",
				token,
			});
		expect((await signOut(first)).status).toBe(204);
		expect((await signOut(first)).status).toBe(401);
		expect(
			(await api(`/sites/${siteId}/agents/me/chats`, { token: first })).status
		).toBe(401);
		expect(
			(await api(`/sites/${siteId}/agents/me/chats`, { token: second })).status
		).toBe(200);
		const { visitor } = await visitorChat(siteId);
		expect((await signOut(visitor.token)).status).toBe(403);
	});

	it("closes the signed-out token's chat sockets with 4401 at their next frame", async () => {
		const siteId = await createSite({
			routing: { mode: "manual", sticky: false },
		});
		const email = await agentAccount(siteId, "Alice");
		const token = await login(siteId, email);
		const chat = await startChat(siteId);
		expect((await accept(siteId, chat.chatId, token)).status).toBe(200);
		const socket = await TestSocket.hello(siteId, chat.chatId, token, [0, 1]);
		expect(
			(
				await api(`/sites/${siteId}/agent-sessions/current`, {
					method: "DELETE",
					token,
				})
			).status
		).toBe(204);
		socket.send({ type: "typing", on: true });
		expect(await socket.closed()).toBe(4401);
	});

	it("from the console: nothing of the session stays in the browser (the token, the chats' copies); the preferences do", async () => {
		const siteId = await createSite();
		const boss = await createAgent(siteId, "Boss", { role: "supervisor" });
		const [local, session] = [new FakeStorage(), new FakeStorage()];
		const email = await agentAccount(siteId, "Alice");
		const { token, agent } = await LiveChatClient.agentLogin({
			baseUrls: [BASE],
			siteId,
			email,
			password: PASSWORD,
			fetch: fetchVia,
		});
		// As ConsoleState makes it, over the fake storage.
		const client = new AgentClient({
			baseUrls: [BASE],
			siteId,
			token,
			agent,
			fetch: fetchVia,
			openSocket: socketOpener(),
			store: new LocalStorageStore(local, chatStorePrefix(agent.id)),
		});
		await client.connect();
		session.setItem("livechat-console:session", JSON.stringify({ token }));
		local.setItem(`livechat-console:preferences:${agent.id}`, "{}");
		local.setItem(`${chatStorePrefix("someone-else")}chats`, "[]");
		const { visitor } = await visitorChat(siteId);
		await until(
			() => client.chats.has(visitor.chatId),
			"the chat routed to the console"
		);
		await client.chats.get(visitor.chatId)!.send("Hello");
		expect(
			[...local.items.keys()].some((k) =>
				k.startsWith(chatStorePrefix(agent.id))
			)
		).toBe(true);

		await endSession(client, { local, session });
		expect([...local.items.keys()].sort()).toEqual(
			[
				`livechat-console:preferences:${agent.id}`,
				`${chatStorePrefix("someone-else")}chats`,
			].sort()
		);
		expect(session.length).toBe(0);
		expect(await statusOf(siteId, boss.token, "Alice")).toBe("offline");
		expect((await api(`/sites/${siteId}/queue`, { token })).status).toBe(401);
	});
});
