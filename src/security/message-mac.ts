import { base64url, fromBase64url, utf8 } from "./encoding.ts";
import { hmacKey } from "./hmac.ts";
import { keysOf } from "./keys.ts";
import type { ChatMessage } from "../protocol/chat.ts";
import type { KeyRing } from "./keys.ts";

export type MacFields = Pick<
	ChatMessage,
	"id" | "type" | "dataOffset" | "sendTime" | "senderId" | "content"
>;

/**
 * Canonical JSON (RFC 8785 style: keys sorted, no whitespace) of the fields SPEC §6 seals.
 * An absent senderId is omitted, as JSON.stringify omits undefined.
 */
export function canonicalMacInput(
	siteId: string,
	chatId: string,
	m: MacFields
): string {
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

/** `"<kid>." + base64url(HMAC-SHA256)` under the current signing key (SPEC §6). */
export async function signMessage(
	keys: KeyRing,
	siteId: string,
	chatId: string,
	m: MacFields
): Promise<string> {
	const { kid, signingKey } = keys.current;
	const mac = await crypto.subtle.sign(
		"HMAC",
		await hmacKey(signingKey),
		utf8.encode(canonicalMacInput(siteId, chatId, m))
	);
	return `${kid}.${base64url(mac)}`;
}

/** Under the key its prefix names, current or retired; a mac without a prefix was made under KEY_ID. */
export async function verifyMessage(
	keys: KeyRing,
	siteId: string,
	chatId: string,
	m: MacFields & { mac: string }
): Promise<boolean> {
	const { kid, digest } = splitMac(m.mac);
	const signingKey = keysOf(keys, kid)?.signingKey;
	if (!signingKey) return false;
	let mac: Uint8Array<ArrayBuffer>;
	try {
		mac = fromBase64url(digest);
	} catch {
		return false;
	}
	return crypto.subtle.verify(
		"HMAC",
		await hmacKey(signingKey),
		mac,
		utf8.encode(canonicalMacInput(siteId, chatId, m))
	);
}

/**
 * Whether a mac was made under the current keys: a rebuild re-signs the messages whose mac is not
 * (SPEC §6), so that they still verify once their retired key leaves PREVIOUS_KEYS. Checks only the
 * kid; verifyMessage checks the mac itself.
 */
export function macIsCurrent(keys: KeyRing, mac: string): boolean {
	return (splitMac(mac).kid ?? keys.current.kid) === keys.current.kid;
}

function splitMac(mac: string): { kid: string | undefined; digest: string } {
	const dot = mac.indexOf(".");
	return dot === -1
		? { kid: undefined, digest: mac }
		: { kid: mac.slice(0, dot), digest: mac.slice(dot + 1) };
}
