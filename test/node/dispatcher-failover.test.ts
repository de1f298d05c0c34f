/**
 * SPEC §7 and §10 on two real deployments: when the primary goes away, the secondary's dispatcher
 * has never seen the site; the agent's console and the visitors' clients bring presence, the queue
 * (in its first order) and the assignment back, and no chat is assigned twice.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseEnv } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { startLocalDeployment } from "../../scripts/local-deployment.ts";
import type { LocalDeployment } from "../../scripts/local-deployment.ts";
import type { ReturnResult, StartChatResult } from "../../src/protocol/chat.ts";
import type {
	AgentServerFrame,
	QueueEntry,
} from "../../src/protocol/dispatch.ts";

const root = fileURLToPath(new URL("../..", import.meta.url));
const stateRoot = mkdtempSync(join(tmpdir(), "elc-dispatch-failover-"));
const SITE = "dispatch-failover";
const ADMIN_TOKEN = parseEnv(
	readFileSync(join(root, ".dev.vars"), "utf8")
).ADMIN_TOKEN!;
let primary: LocalDeployment;
let secondary: LocalDeployment;

async function call<T>(
	base: string,
	path: string,
	init: { method?: string; token?: string; body?: unknown } = {}
): Promise<{ status: number; body: T }> {
	const headers: Record<string, string> = {
		"Content-Type": "application/json",
	};
	if (init.token) headers.Authorization = `Bearer ${init.token}`;
	const response = await fetch(`${base}/v1${path}`, {
		method: init.method ?? "GET",
		headers,
		body: init.body === undefined ? undefined : JSON.stringify(init.body),
	});
	return { status: response.status, body: (await response.json()) as T };
}

/** An agent console on one deployment. */
function openConsole(
	base: string,
	token: string,
	chats: string[]
): Promise<{ frames: AgentServerFrame[]; ws: WebSocket }> {
	return new Promise((resolve, reject) => {
		const ws = new WebSocket(
			`${base.replace("http", "ws")}/v1/sites/${SITE}/agents/me/ws`
		);
		const frames: AgentServerFrame[] = [];
		ws.on("message", (data) => {
			const text = String(data);
			if (text.startsWith("{"))
				frames.push(JSON.parse(text) as AgentServerFrame);
			if (frames.some((f) => f.type === "queue")) resolve({ frames, ws });
		});
		ws.once("open", () =>
			ws.send(JSON.stringify({ type: "hello", token, status: "online", chats }))
		);
		ws.once("error", reject);
	});
}

async function eventually<T>(
	read: () => Promise<T>,
	done: (value: T) => boolean,
	ms = 10_000
): Promise<T> {
	const until = Date.now() + ms;
	for (;;) {
		const value = await read();
		if (done(value) || Date.now() > until) return value;
		await new Promise((resolve) => setTimeout(resolve, 100));
	}
}

beforeAll(async () => {
	[primary, secondary] = await Promise.all([
		startLocalDeployment({ port: 18797, stateDir: join(stateRoot, "primary") }),
		startLocalDeployment({
			port: 18798,
			stateDir: join(stateRoot, "secondary"),
		}),
	]);
	for (const d of [primary, secondary]) {
		const site = await call(d.url, `/admin/sites/${SITE}`, {
			method: "PUT",
			token: ADMIN_TOKEN,
			body: {
				name: "Dispatch failover",
				routing: { mode: "manual", sticky: false },
			},
		});
		expect(site.status).toBe(200);
	}
});

afterAll(async () => {
	await Promise.all([primary?.stop(), secondary?.stop()]);
	rmSync(stateRoot, { recursive: true, force: true });
});

describe("the dispatcher on a failover deployment that never saw the site", () => {
	it("gets presence, the queue in its first order and the assignment back from its clients; no chat is assigned twice", async () => {
		const agent = {
			email: "fay@example.com",
			name: "Fay",
			password: "correct horse battery",
			maxChats: 3,
		};
		expect(
			(
				await call(primary.url, `/admin/sites/${SITE}/agents`, {
					method: "POST",
					token: ADMIN_TOKEN,
					body: agent,
				})
			).status
		).toBe(201);
		const login = await call<{ token: string }>(
			primary.url,
			`/sites/${SITE}/agent-sessions`,
			{ method: "POST", body: { email: agent.email, password: agent.password } }
		);
		const token = login.body.token;

		// On the primary: Fay's console takes the first chat; two more wait.
		const onPrimary = await openConsole(primary.url, token, []);
		const start = async (name: string) =>
			(
				await call<StartChatResult>(primary.url, `/sites/${SITE}/chats`, {
					method: "POST",
					body: { visitor: { name } },
				})
			).body;
		const first = await start("First");
		onPrimary.ws.send(JSON.stringify({ type: "accept", chatId: first.chatId }));
		await eventually(
			async () => onPrimary.frames.some((f) => f.type === "assigned"),
			Boolean
		);
		const second = await start("Second");
		const third = await start("Third");
		const copies = new Map<string, ReturnResult>();
		for (const chat of [first, second, third]) {
			copies.set(
				chat.chatId,
				(
					await call<ReturnResult>(
						primary.url,
						`/sites/${SITE}/chats/${chat.chatId}/messages`,
						{ token: chat.token }
					)
				).body
			);
		}
		onPrimary.ws.close();
		await primary.stop();

		// On the secondary: the visitors' clients find their chats missing and rebuild them (the later one first), the console says hello.
		for (const chat of [third, second, first]) {
			const copy = copies.get(chat.chatId)!;
			const lost = await call<ReturnResult>(
				secondary.url,
				`/sites/${SITE}/chats/${chat.chatId}/messages`,
				{ token: chat.token }
			);
			expect(lost.body.code).toBe(1);
			const rebuilt = await call<ReturnResult>(
				secondary.url,
				`/sites/${SITE}/chats/${chat.chatId}/rebuild`,
				{
					method: "POST",
					token: chat.token,
					body: {
						chatState: copy.chatState ?? chat.chatState,
						visitorDataOffset: copy.visitorDataOffset,
						agentDataOffset: copy.agentDataOffset,
						messages: copy.messages,
					},
				}
			);
			expect(rebuilt.status).toBe(200);
		}
		const onSecondary = await openConsole(secondary.url, token, [first.chatId]);

		const waiting = await eventually(
			async () =>
				(
					await call<{ waiting: QueueEntry[] }>(
						secondary.url,
						`/sites/${SITE}/queue`,
						{ token }
					)
				).body.waiting,
			(w) => w.length === 2
		);
		expect(waiting.map((w) => [w.chatId, w.position])).toEqual([
			[second.chatId, 1],
			[third.chatId, 2],
		]);
		const mine = await call<{ chats: { chatId: string }[] }>(
			secondary.url,
			`/sites/${SITE}/agents/me/chats`,
			{ token }
		);
		expect(mine.body.chats.map((c) => c.chatId)).toEqual([first.chatId]);
		const availability = await call<{ online: boolean; waiting: number }>(
			secondary.url,
			`/sites/${SITE}/availability`
		);
		expect(availability.body).toEqual({ online: true, waiting: 2 });

		const acceptOnSecondary = (chatId: string) =>
			call(secondary.url, `/sites/${SITE}/chats/${chatId}/accept`, {
				method: "POST",
				token,
			});
		// No chat twice: accepting the first chat again is Fay's own (idempotent), a waiting one is taken once.
		expect((await acceptOnSecondary(first.chatId)).status).toBe(200);
		expect((await acceptOnSecondary(second.chatId)).status).toBe(200);
		expect((await acceptOnSecondary(second.chatId)).status).toBe(200);
		const joined = await call<ReturnResult>(
			secondary.url,
			`/sites/${SITE}/chats/${second.chatId}/messages`,
			{ token: second.token }
		);
		expect(
			joined.body.messages.filter((m) => m.type === 4).map((m) => m.content)
		).toEqual(["Fay joined the chat"]);
		onSecondary.ws.close();
	});
});

/** Resolves with what the server agreed to on the upgrade: the negotiated extensions, as the client sees them. */
function extensionsOf(
	url: string
): Promise<{ header?: string; agreed: string }> {
	return new Promise((resolve, reject) => {
		// `ws` offers permessage-deflate by default, as every browser does.
		const ws = new WebSocket(url);
		let header: string | undefined;
		ws.once("upgrade", (res) => {
			header = res.headers["sec-websocket-extensions"];
		});
		ws.once("open", () => {
			resolve({ header, agreed: ws.extensions });
			ws.close();
		});
		ws.once("error", reject);
	});
}

describe("sockets on a real deployment", () => {
	it("decline per-message compression though the client offers it: chat sockets and console sockets", async () => {
		const started = await call<StartChatResult>(
			secondary.url,
			`/sites/${SITE}/chats`,
			{ method: "POST", body: { visitor: { name: "Plain" } } }
		);
		expect(started.status).toBe(201);
		const ws = secondary.url.replace("http", "ws");
		for (const url of [
			`${ws}/v1/sites/${SITE}/chats/${started.body.chatId}/ws`,
			`${ws}/v1/sites/${SITE}/agents/me/ws`,
		]) {
			const { header, agreed } = await extensionsOf(url);
			expect(header).toBeUndefined();
			expect(agreed).toBe("");
		}
	});
});
