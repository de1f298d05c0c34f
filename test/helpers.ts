import { env } from "cloudflare:test";
import { checkedFetch } from "./answer-check.ts";
import { WAIT_MS } from "./waiting.ts";
import type { ReturnResult, StartChatResult } from "../src/protocol/chat.ts";
import type { SiteConfigInput } from "../src/protocol/site-config.ts";

export const BASE = "http://chat.test";

export async function api(
	path: string,
	init: RequestInit & { token?: string; offsets?: [number, number] } = {}
) {
	const headers = new Headers(init.headers);
	if (init.token) headers.set("Authorization", `Bearer ${init.token}`);
	if (init.offsets) {
		headers.set("X-Visitor-Data-Offset", String(init.offsets[0]));
		headers.set("X-Agent-Data-Offset", String(init.offsets[1]));
	}
	if (init.body !== undefined && !headers.has("Content-Type"))
		headers.set("Content-Type", "application/json");
	return checkedFetch(`${BASE}/v1${path}`, { ...init, headers });
}

export const json = (value: unknown) => JSON.stringify(value);

/** A fresh site per test, so tests never see each other's chats or agents. */
export async function createSite(
	config: Partial<SiteConfigInput> = {}
): Promise<string> {
	const siteId = `site-${crypto.randomUUID().slice(0, 8)}`;
	const res = await api(`/admin/sites/${siteId}`, {
		method: "PUT",
		token: env.ADMIN_TOKEN,
		body: json({ name: "Test site", ...config }),
	});
	if (res.status !== 200)
		throw new Error(`site setup failed: ${res.status} ${await res.text()}`);
	return siteId;
}

export async function createAgent(
	siteId: string,
	name = "Alice",
	options: { maxChats?: number; role?: "agent" | "supervisor" } = {}
): Promise<{ token: string; agentId: string }> {
	const email = `${name.toLowerCase()}-${crypto.randomUUID().slice(0, 6)}@example.com`;
	const password = "correct horse battery";
	const created = await api(`/admin/sites/${siteId}/agents`, {
		method: "POST",
		token: env.ADMIN_TOKEN,
		body: json({
			email,
			name,
			password,
			maxChats: options.maxChats ?? 5,
			...(options.role ? { role: options.role } : {}),
		}),
	});
	if (created.status !== 201)
		throw new Error(
			`agent setup failed: ${created.status} ${await created.text()}`
		);
	const login = await api(`/sites/${siteId}/agent-sessions`, {
		method: "POST",
		body: json({ email, password }),
	});
	const body = await login.json<{ token: string; agent: { id: string } }>();
	return { token: body.token, agentId: body.agent.id };
}

export async function startChat(
	siteId: string,
	visitor: Record<string, unknown> = { name: "Vera" }
): Promise<StartChatResult> {
	const res = await api(`/sites/${siteId}/chats`, {
		method: "POST",
		body: json({ visitor }),
	});
	if (res.status !== 201)
		throw new Error(`start failed: ${res.status} ${await res.text()}`);
	return res.json<StartChatResult>();
}

export async function send(
	siteId: string,
	chatId: string,
	token: string,
	offsets: [number, number],
	content: string,
	id = crypto.randomUUID()
) {
	const res = await api(`/sites/${siteId}/chats/${chatId}/messages`, {
		method: "POST",
		token,
		offsets,
		body: json({ id, content }),
	});
	return { status: res.status, body: await res.json<ReturnResult>() };
}

export async function poll(
	siteId: string,
	chatId: string,
	token: string,
	offsets: [number, number] = [0, 0]
) {
	const res = await api(`/sites/${siteId}/chats/${chatId}/messages`, {
		token,
		offsets,
	});
	return { status: res.status, body: await res.json<ReturnResult>() };
}

export async function rebuild(
	siteId: string,
	chatId: string,
	token: string,
	body: unknown
) {
	const res = await api(`/sites/${siteId}/chats/${chatId}/rebuild`, {
		method: "POST",
		token,
		body: typeof body === "string" ? body : json(body),
	});
	return { status: res.status, body: await res.json<ReturnResult>() };
}

/** A rebuild that brings only a chatState: a client replaying an older state, or one that holds no messages yet. */
export const rebuildWithState = (
	siteId: string,
	chatId: string,
	token: string,
	chatState: string
) =>
	rebuild(siteId, chatId, token, {
		chatState,
		visitorDataOffset: 0,
		agentDataOffset: 0,
		messages: [],
	});

/** An agent takes a waiting chat (SPEC §7): until then it may not act in it. */
export async function accept(siteId: string, chatId: string, token: string) {
	const res = await api(`/sites/${siteId}/chats/${chatId}/accept`, {
		method: "POST",
		token,
	});
	return {
		status: res.status,
		body: await res.json<{
			chatId?: string;
			chatState?: string;
			code?: number;
			error?: { type: string };
		}>(),
	};
}

/**
 * Reads until `done` says yes, and returns that read: for what happens just after an answer (routing,
 * pushes). Given up after WAIT_MS (test/waiting.ts), returning the last read for the test's assertion to show.
 */
export async function eventually<T>(
	read: () => Promise<T>,
	done: (value: T) => boolean,
	ms = WAIT_MS
): Promise<T> {
	const until = Date.now() + ms;
	for (;;) {
		const value = await read();
		if (done(value) || Date.now() > until) return value;
		await new Promise((resolve) => setTimeout(resolve, 25));
	}
}
