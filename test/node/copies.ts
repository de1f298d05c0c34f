/** What the node tests share on real deployments: a chat on the demo site, a deployment's copy of it, and copies that agree. */
import { expect } from "vitest";
import { LiveChatClient } from "../../client/index.ts";
import type { TransportOptions } from "../../client/index.ts";
import type { ChatMessage } from "../../src/protocol/chat.ts";

/** The deployment's whole copy (a poll at 0/0), read with a token of the chat, on the demo site. */
export async function serverCopy(
	baseUrl: string,
	chat: { chatId: string; token: string }
): Promise<ChatMessage[]> {
	const response = await fetch(
		`${baseUrl}/v1/sites/demo/chats/${chat.chatId}/messages`,
		{ headers: { Authorization: `Bearer ${chat.token}` } }
	);
	const body = (await response.json()) as {
		code: number;
		messages: ChatMessage[];
	};
	expect(body.code).toBe(0);
	return body.messages;
}

/** Every copy: the same messages, each once, in the same order (macs left out when asked: see key rotation). */
export function expectIdentical(
	copies: ChatMessage[][],
	options: { ignoreMacs?: boolean } = {}
) {
	const ids = copies[0]!.map((m) => m.id);
	expect(new Set(ids).size).toBe(ids.length);
	const comparable = (copy: ChatMessage[]) =>
		options.ignoreMacs ? copy.map(({ mac: _mac, ...m }) => m) : copy;
	for (const copy of copies.slice(1))
		expect(comparable(copy)).toEqual(comparable(copies[0]!));
}

/** A visitor's chat on the demo site and the demo agent's client in it, accepted (an agent acts in a chat only once it has, SPEC §4). */
export async function demoChat(
	transport: TransportOptions,
	visitorName: string
) {
	const visitor = await LiveChatClient.startChat({
		...transport,
		siteId: "demo",
		visitor: { name: visitorName },
	});
	const login = await LiveChatClient.agentLogin({
		...transport,
		siteId: "demo",
		email: "agent@demo.local",
		password: "demo-password",
	});
	const agent = new LiveChatClient({
		...transport,
		siteId: "demo",
		chatId: visitor.chatId,
		token: login.token,
	});
	await agent.accept();
	return { visitor, agent };
}
