/**
 * Hardening end to end on two real deployments (SPEC §10): what is accepted is never lost, doubled or
 * forged, whichever deployment a client talks to. Real clients (LiveChatClient), real Workers.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LiveChatClient, MemoryStore } from "../../client/index.ts";
import { startLocalDeployment } from "../../scripts/local-deployment.ts";
import { expectIdentical, serverCopy } from "./copies.ts";
import type { ChatStore } from "../../client/index.ts";
import type { LocalDeployment } from "../../scripts/local-deployment.ts";
import type { ChatMessage } from "../../src/protocol/chat.ts";

const stateRoot = mkdtempSync(join(tmpdir(), "elc-hardening-"));
const primaryOptions = { port: 18797, stateDir: join(stateRoot, "primary") };
const secondaryOptions = {
	port: 18798,
	stateDir: join(stateRoot, "secondary"),
};
let primary: LocalDeployment;
let secondary: LocalDeployment;

const fast = {
	failBackAfterMs: 60_000,
	backoffMs: 50,
	timeoutMs: 5_000,
	attempts: 2,
};

/** A client that comes back from `store` (a page reload, another tab), talking to the secondary first. */
const resumed = async (
	chatId: string,
	store: ChatStore,
	baseUrls = [secondary.url, primary.url]
) =>
	(await LiveChatClient.resume({
		baseUrls,
		...fast,
		siteId: "demo",
		chatId,
		store,
	}))!;

/** The demo agent's client on a chat, logged in afresh (its copy in `store` when given). */
async function agentFor(baseUrls: string[], chatId: string, store?: ChatStore) {
	const login = await LiveChatClient.agentLogin({
		baseUrls,
		...fast,
		siteId: "demo",
		email: "agent@demo.local",
		password: "demo-password",
	});
	return new LiveChatClient({
		baseUrls,
		...fast,
		siteId: "demo",
		chatId,
		token: login.token,
		store,
	});
}

/** Each stream numbered 1…n, no gap and no double. */
function expectNumbered(copy: ChatMessage[]) {
	for (const visitorStream of [true, false]) {
		const offsets = copy
			.filter((m) => (m.type === 1) === visitorStream)
			.map((m) => m.dataOffset);
		expect([...offsets].sort((a, b) => a - b)).toEqual(
			offsets.map((_, i) => i + 1)
		);
	}
}

/** A message POSTed by hand to a deployment, with the client's token. */
const postMessage = (
	baseUrl: string,
	client: { chatId: string; token: string },
	id: string,
	content: string,
	headers: Record<string, string> = {}
) =>
	fetch(`${baseUrl}/v1/sites/demo/chats/${client.chatId}/messages`, {
		method: "POST",
		headers: {
			Authorization: `Bearer ${client.token}`,
			"Content-Type": "application/json",
			...headers,
		},
		body: JSON.stringify({ id, content }),
	});

/** A send by a client that knows nothing of chains (an old SDK): the offsets alone are checked. */
async function sendWithoutChain(
	baseUrl: string,
	client: LiveChatClient,
	id: string,
	content: string
) {
	const { visitorDataOffset, agentDataOffset } = client.offsets;
	const response = await postMessage(baseUrl, client, id, content, {
		"X-Visitor-Data-Offset": String(visitorDataOffset),
		"X-Agent-Data-Offset": String(agentDataOffset),
	});
	expect(((await response.json()) as { code: number }).code).toBe(0);
}

beforeAll(async () => {
	[primary, secondary] = await Promise.all([
		startLocalDeployment(primaryOptions),
		startLocalDeployment(secondaryOptions),
	]);
});

afterAll(async () => {
	await Promise.all([primary?.stop(), secondary?.stop()]);
	rmSync(stateRoot, { recursive: true, force: true });
});

describe("nothing lost, nothing forged, on two deployments", () => {
	it("refuses ids and text SQLite would rewrite on both, and keeps astral text exact across the switch", async () => {
		const baseUrls = [primary.url, secondary.url];
		const store = new MemoryStore();
		const visitor = await LiveChatClient.startChat({
			baseUrls,
			...fast,
			siteId: "demo",
			visitor: { name: "Ünï 😀" },
			store,
		});
		const agent = await agentFor(baseUrls, visitor.chatId);
		await agent.accept();
		for (const url of baseUrls) {
			for (const id of [
				"a\ud800",
				"a\ud801",
				"A1B2C3D4-0000-4000-8000-000000000000",
			]) {
				const response = await postMessage(url, visitor, id, "x");
				expect(response.status).toBe(400);
			}
		}
		await visitor.send("emoji 😀, clef 𝄞, 漢字");
		await agent.poll();
		await agent.send("réponse ✓");
		await visitor.poll();
		// The visitor's page comes back on the secondary (its copy from the store): a full rebuild that must verify every mac.
		const moved = await resumed(visitor.chatId, store);
		await moved.poll();
		expect(moved.messages.map((m) => m.content)).toEqual(
			agent.messages.map((m) => m.content)
		);
		expectIdentical([moved.messages, await serverCopy(secondary.url, visitor)]);
	});

	it("finds two tabs' histories that differ below equal offsets, and after the fail-back every copy holds every message once, in order", async () => {
		const store = new MemoryStore();
		const tabA = await LiveChatClient.startChat({
			baseUrls: [primary.url, secondary.url],
			...fast,
			siteId: "demo",
			visitor: { name: "Two Tabs" },
			store,
		});
		const agent = await agentFor([primary.url, secondary.url], tabA.chatId);
		await agent.accept();
		for (let i = 1; i <= 5; i++) await tabA.send(`visitor ${i}`);
		await agent.poll();
		// Tab B holds what tab A holds, and talks to the secondary (it lost the primary): the secondary is rebuilt from it.
		const tabB = await resumed(tabA.chatId, store);
		await tabB.poll();

		// Split brain: each tab's sixth message goes to its own deployment, at offset 6 on each.
		await tabA.send("six from tab A (primary)");
		await tabB.send("six from tab B (secondary)");
		expect(tabA.offsets.visitorDataOffset).toBe(6);
		expect(tabB.offsets.visitorDataOffset).toBe(6);
		// Then one message 7 with the same id reaches both (an old client retrying on the other deployment).
		const seven = crypto.randomUUID();
		await sendWithoutChain(primary.url, tabA, seven, "seven, on both");
		await sendWithoutChain(secondary.url, tabB, seven, "seven, on both");
		await tabA.poll();
		await tabB.poll();
		expect(tabA.offsets).toEqual(tabB.offsets); // equal offsets, different histories
		expect(
			tabA.messages.find((m) => m.dataOffset === 6 && m.type === 1)!.id
		).not.toBe(
			tabB.messages.find((m) => m.dataOffset === 6 && m.type === 1)!.id
		);

		// The secondary goes away: tab B fails back to the primary, whose chain at 7 is not tab B's.
		await secondary.stop();
		await tabB.send("after the fail-back");
		await tabA.poll();
		await agent.poll();
		await tabB.poll();

		const server = await serverCopy(primary.url, tabA);
		expectIdentical([tabA.messages, tabB.messages, agent.messages, server]);
		expectNumbered(server);
		const contents = server.map((m) => m.content);
		for (const text of [
			"six from tab A (primary)",
			"six from tab B (secondary)",
			"seven, on both",
			"after the fail-back",
		])
			expect(contents.filter((c) => c === text)).toHaveLength(1);
		secondary = await startLocalDeployment(secondaryOptions);
	});

	it("cannot erase the transcript through the failover deployment: chat.end waits for the agent's copy, then has all of it", async () => {
		const baseUrls = [primary.url, secondary.url];
		const visitor = await LiveChatClient.startChat({
			baseUrls,
			...fast,
			siteId: "demo",
			visitor: { name: "Eraser" },
		});
		const oldestState = (visitor as unknown as { chatState: string }).chatState;
		const agentStore = new MemoryStore();
		const agent = await agentFor(baseUrls, visitor.chatId, agentStore);
		await agent.accept();
		for (let i = 1; i <= 3; i++) {
			await visitor.send(`visitor ${i}`);
			await agent.poll();
			await agent.send(`agent ${i}`);
			await visitor.poll();
		}
		const everything = agent.messages.map((m) => m.id);

		// The visitor, on the secondary, rebuilds the chat from nothing with its oldest state and ends it.
		const headers = {
			Authorization: `Bearer ${visitor.token}`,
			"Content-Type": "application/json",
		};
		const chatPath = `${secondary.url}/v1/sites/demo/chats/${visitor.chatId}`;
		const emptied = await fetch(`${chatPath}/rebuild`, {
			method: "POST",
			headers,
			body: JSON.stringify({
				chatState: oldestState,
				visitorDataOffset: 0,
				agentDataOffset: 0,
				messages: [],
			}),
		});
		expect(emptied.status).toBe(200);
		expect(
			(await fetch(`${chatPath}/end`, { method: "POST", headers })).status
		).toBe(200);
		const history = () =>
			fetch(`${secondary.url}/v1/sites/demo/history/chats/${visitor.chatId}`, {
				headers: { Authorization: `Bearer ${agent.token}` },
			});
		await new Promise((r) => setTimeout(r, 3000));
		expect((await history()).status).toBe(404); // nothing left the service with the visitor's copy alone

		// The agent's console, now on the secondary, carries its copy there: chat.end goes out, whole.
		const console2 = await resumed(visitor.chatId, agentStore, [secondary.url]);
		await console2.poll();
		let persisted: { messages: { id: string }[] } | undefined;
		for (let i = 0; i < 60 && !persisted; i++) {
			const response = await history();
			if (response.status === 200)
				persisted = (await response.json()) as { messages: { id: string }[] };
			else await new Promise((r) => setTimeout(r, 500));
		}
		expect(persisted).toBeDefined();
		const ids = persisted!.messages.map((m) => m.id);
		for (const id of everything) expect(ids).toContain(id);
		expect(new Set(ids).size).toBe(ids.length);
	});

	it("keeps a transferred-away agent out through the failover deployment: its older chatState is refused there", async () => {
		const call = async (
			baseUrl: string,
			path: string,
			token: string,
			body?: unknown
		) => {
			const response = await fetch(
				`${baseUrl}/v1/sites/demo${path}`,
				body === undefined
					? { headers: { Authorization: `Bearer ${token}` } }
					: {
							method: path.endsWith("/status") ? "PUT" : "POST",
							headers: {
								Authorization: `Bearer ${token}`,
								"Content-Type": "application/json",
							},
							body: JSON.stringify(body),
						}
			);
			return {
				status: response.status,
				body: (await response.json()) as {
					chatState?: string;
					code?: number;
				},
			};
		};
		const login = async (email: string) =>
			(
				await LiveChatClient.agentLogin({
					baseUrls: [primary.url],
					...fast,
					siteId: "demo",
					email,
					password: "demo-password",
				})
			).token;
		const visitorStore = new MemoryStore();
		const visitor = await LiveChatClient.startChat({
			baseUrls: [primary.url, secondary.url],
			...fast,
			siteId: "demo",
			visitor: { name: "Replay" },
			store: visitorStore,
		});
		const [first, second] = [
			await login("agent@demo.local"),
			await login("agent2@demo.local"),
		];
		const chat = `/chats/${visitor.chatId}`;
		const accepted = await call(primary.url, `${chat}/accept`, first, {});
		expect(accepted.status).toBe(200);
		const beforeTransfer = accepted.body.chatState!;
		await visitor.send("hello before the transfer");
		expect(
			(
				await call(primary.url, "/agents/me/status", second, {
					status: "online",
				})
			).status
		).toBe(200);
		// Seeded agents have fixed ids, the same on every deployment.
		const transferred = await call(primary.url, `${chat}/transfer`, first, {
			toAgentId: "demo-agent-2",
		});
		expect(transferred.status).toBe(200);
		await visitor.poll(); // the visitor's copy now holds the state that shows the transfer

		// The primary is gone for this chat's clients: the visitor rebuilds the secondary from its copy.
		const moved = await resumed(visitor.chatId, visitorStore, [secondary.url]);
		await moved.poll();
		const replay = (token: string) =>
			call(secondary.url, `${chat}/rebuild`, token, {
				chatState: beforeTransfer,
				visitorDataOffset: 0,
				agentDataOffset: 0,
				messages: [],
			});
		expect((await replay(first)).status).toBe(403);
		expect((await call(secondary.url, `${chat}/messages`, first)).status).toBe(
			403
		);
		// The visitor's own replay of the older state does not let the first agent back either.
		expect((await replay(visitor.token)).status).toBe(200);
		expect((await call(secondary.url, `${chat}/messages`, first)).status).toBe(
			403
		);
		expect((await call(secondary.url, `${chat}/messages`, second)).status).toBe(
			200
		);
	});
});
