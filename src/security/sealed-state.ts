/**
 * Sealed state (SPEC §6): AES-256-GCM under a key derived with HKDF from STATE_SEALING_KEY and
 * the siteId. Format `s1.<kid>.<iv>.<ciphertext>`; the chat id is authenticated data, so a blob
 * cannot be replayed into another chat. Another deployment with the same keys opens it, and so does
 * one whose PREVIOUS_KEYS hold the blob's kid (rotation).
 */
import { base64url, fromBase64url, utf8 } from "./encoding.ts";
import type { KeyRing } from "./keys.ts";

const FORMAT = "s1";
const keys = new Map<string, Promise<CryptoKey>>();

function sealingKey(secret: string, siteId: string): Promise<CryptoKey> {
	const cacheKey = `${secret}\u0000${siteId}`;
	let key = keys.get(cacheKey);
	if (!key) {
		key = crypto.subtle
			.importKey("raw", utf8.encode(secret), "HKDF", false, ["deriveKey"])
			.then((base) =>
				crypto.subtle.deriveKey(
					{
						name: "HKDF",
						hash: "SHA-256",
						salt: utf8.encode("edge-live-chat/sealed-state"),
						info: utf8.encode(siteId),
					},
					base,
					{ name: "AES-GCM", length: 256 },
					false,
					["encrypt", "decrypt"]
				)
			);
		keys.set(cacheKey, key);
	}
	return key;
}

/** Under the current keys; their kid is in the blob, so that a deployment with rotated keys still opens it. */
export async function seal(
	keys: KeyRing,
	siteId: string,
	chatId: string,
	value: unknown
): Promise<string> {
	const { kid, sealingKey: secret } = keys.current;
	const iv = crypto.getRandomValues(new Uint8Array(12));
	const ciphertext = await crypto.subtle.encrypt(
		{ name: "AES-GCM", iv, additionalData: utf8.encode(chatId) },
		await sealingKey(secret, siteId),
		utf8.encode(JSON.stringify(value))
	);
	return [FORMAT, kid, base64url(iv), base64url(ciphertext)].join(".");
}

/**
 * The opened JSON value, or undefined when the blob is malformed, altered, sealed for another site or
 * chat, or under a kid that is neither KEY_ID nor in PREVIOUS_KEYS.
 */
export async function open(
	keys: KeyRing,
	siteId: string,
	chatId: string,
	sealed: string
): Promise<unknown> {
	const [format, kid, iv, ciphertext, extra] = sealed.split(".");
	if (format !== FORMAT || !kid || !iv || !ciphertext || extra !== undefined)
		return undefined;
	const secret = keys.byKid.get(kid)?.sealingKey;
	if (!secret) return undefined;
	try {
		const plain = await crypto.subtle.decrypt(
			{
				name: "AES-GCM",
				iv: fromBase64url(iv),
				additionalData: utf8.encode(chatId),
			},
			await sealingKey(secret, siteId),
			fromBase64url(ciphertext)
		);
		return JSON.parse(new TextDecoder().decode(plain));
	} catch {
		return undefined;
	}
}
