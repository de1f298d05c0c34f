import type { ChatMessage } from "../protocol/chat.ts";
import { base64url, fromBase64url, utf8 } from "./encoding.ts";
import { hmacKey } from "./hmac.ts";

export type MacFields = Pick<ChatMessage, "id" | "type" | "dataOffset" | "sendTime" | "senderId" | "content">;

/**
 * Canonical JSON (RFC 8785 style: keys sorted, no whitespace) of the fields SPEC §6 seals.
 * An absent senderId is omitted, as JSON.stringify omits undefined.
 */
export function canonicalMacInput(siteId: string, chatId: string, m: MacFields): string {
	return JSON.stringify({
		chatId,
		content: m.content,
		dataOffset: m.dataOffset,
		id: m.id,
		sendTime: m.sendTime,
		senderId: m.senderId,
		siteId,
		type: m.type,
	});
}

export async function signMessage(secret: string, siteId: string, chatId: string, m: MacFields): Promise<string> {
	const key = await hmacKey(secret);
	const mac = await crypto.subtle.sign("HMAC", key, utf8.encode(canonicalMacInput(siteId, chatId, m)));
	return base64url(mac);
}

export async function verifyMessage(
	secret: string,
	siteId: string,
	chatId: string,
	m: MacFields & { mac: string },
): Promise<boolean> {
	let mac: Uint8Array<ArrayBuffer>;
	try {
		mac = fromBase64url(m.mac);
	} catch {
		return false;
	}
	const key = await hmacKey(secret);
	return crypto.subtle.verify("HMAC", key, mac, utf8.encode(canonicalMacInput(siteId, chatId, m)));
}
