/** What the node tests check on real deployments: a deployment's copy of a chat, and copies that agree. */
import { expect } from "vitest";
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
