import { SELF } from "cloudflare:test";
import { expect } from "vitest";
import { LiveChatClient } from "../client/index.ts";
import { ChatLog } from "../durable-objects/chat-model.ts";
import { accept, BASE, createAgent, createSite, poll } from "./helpers.ts";
import type { ChatMessage } from "../src/protocol/chat.ts";

export interface Recorded {
	method: string;
	path: string;
	status: number;
	code?: number;
	offsets?: [number, number];
	uploaded?: number;
}

/** The Worker's own fetch, recording every chat call so tests can see the protocol at work. */
export function recordingFetch(log: Recorded[]): typeof fetch {
	return async (input, init) => {
		const request = new Request(input, init);
		const uploaded =
			request.method === "POST" && request.url.endsWith("/rebuild")
				? (await request.clone().json<{ messages: unknown[] }>()).messages
						.length
				: undefined;
		const response = await SELF.fetch(request);
		const body = await response
			.clone()
			.json<{
				code?: number;
				visitorDataOffset?: number;
				agentDataOffset?: number;
			}>()
			.catch(() => undefined);
		log.push({
			method: request.method,
			path: new URL(request.url).pathname.replace(/^.*\/chats\/[^/]+/, ""),
			status: response.status,
			code: body?.code,
			offsets:
				body?.visitorDataOffset === undefined
					? undefined
					: [body.visitorDataOffset, body.agentDataOffset!],
			uploaded,
		});
		return response;
	};
}

/** A visitor's client starting a chat on `siteId`, its calls recorded in `calls`. */
export function visitorClient(
	siteId: string,
	visitor: Record<string, unknown> = { name: "Vera" },
	calls: Recorded[] = []
) {
	return LiveChatClient.startChat({
		baseUrls: [BASE],
		siteId,
		visitor,
		fetch: recordingFetch(calls),
	});
}

/** An agent's client (or another device of it) on a chat it has accepted. */
export function agentClient(
	siteId: string,
	chatId: string,
	token: string,
	calls: Recorded[] = []
) {
	return new LiveChatClient({
		baseUrls: [BASE],
		siteId,
		chatId,
		token,
		fetch: recordingFetch(calls),
	});
}

/** A visitor's client and an agent's client on one chat the agent has accepted, on a fresh site unless one is given. */
export async function visitorAndAgent(
	options: {
		siteId?: string;
		visitor?: Record<string, unknown>;
		agentName?: string;
	} = {}
) {
	const siteId = options.siteId ?? (await createSite());
	const calls: Recorded[] = [];
	const visitor = await visitorClient(siteId, options.visitor, calls);
	const agentLogin = await createAgent(siteId, options.agentName);
	await accept(siteId, visitor.chatId, agentLogin.token);
	const agent = agentClient(siteId, visitor.chatId, agentLogin.token, calls);
	return {
		siteId,
		visitor,
		agent,
		agentToken: agentLogin.token,
		agentId: agentLogin.agentId,
		calls,
	};
}

/** A short real conversation: each side sees the other's messages before answering. */
export async function converse(
	visitor: LiveChatClient,
	agent: LiveChatClient,
	turns: number
) {
	for (let i = 1; i <= turns; i++) {
		await visitor.send(`visitor says ${i}`);
		await agent.poll();
		await agent.send(`agent answers ${i}`);
		await visitor.poll();
	}
}

/** What a user would check: every message once, in display order, identical in every copy. */
export function expectSameChat(...copies: ChatMessage[][]) {
	const [first, ...rest] = copies;
	const ids = first!.map((m) => m.id);
	if (new Set(ids).size !== ids.length) throw new Error("a message is doubled");
	for (const copy of rest) {
		expect(copy.map(brief), "same messages in the same order").toEqual(
			first!.map(brief)
		);
		expect(copy).toEqual(first);
	}
	for (const stream of [1, 2] as const) {
		const offsets = first!
			.filter((m) => (stream === 1 ? m.type === 1 : m.type !== 1))
			.map((m) => m.dataOffset)
			.sort((a, b) => a - b);
		offsets.forEach((offset, i) => {
			if (offset !== i + 1)
				throw new Error(`stream ${stream} has a gap or a double at ${i + 1}`);
		});
	}
}

/** expectSameChat over a client's copy, the other copies and the server's, read with that client's token. */
export async function expectSameAsServer(
	siteId: string,
	client: { chatId: string; token: string; messages: ChatMessage[] },
	...others: ChatMessage[][]
) {
	expectSameChat(
		client.messages,
		...others,
		await serverMessages(siteId, client.chatId, client.token)
	);
}

const brief = (m: ChatMessage) => `${m.type}:${m.dataOffset}:${m.content}`;

export async function serverMessages(
	siteId: string,
	chatId: string,
	token: string
): Promise<ChatMessage[]> {
	const { body } = await poll(siteId, chatId, token);
	if (body.code !== 0) throw new Error(`server answered code ${body.code}`);
	return new ChatLog(body.messages).all();
}
