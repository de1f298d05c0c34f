/**
 * Sealed state (SPEC §6): AES-256-GCM under a key derived with HKDF from STATE_SEALING_KEY and
 * the siteId. Format `s1.<kid>.<iv>.<ciphertext>`; the chat id is authenticated data, so a blob
 * cannot be replayed into another chat. Another deployment with the same keys opens it.
 */
import { base64url, fromBase64url, utf8 } from "./encoding.ts";

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
					{ name: "HKDF", hash: "SHA-256", salt: utf8.encode("edge-live-chat/sealed-state"), info: utf8.encode(siteId) },
					base,
					{ name: "AES-GCM", length: 256 },
					false,
					["encrypt", "decrypt"],
				),
			);
		keys.set(cacheKey, key);
	}
	return key;
}

export interface SealingKeys {
	/** kid → secret; the current kid seals, every listed kid opens (rotation). */
	secrets: Record<string, string>;
	currentKid: string;
}

export async function seal(keys: SealingKeys, siteId: string, chatId: string, value: unknown): Promise<string> {
	const secret = keys.secrets[keys.currentKid];
	if (!secret) throw new Error(`no sealing key for kid ${keys.currentKid}`);
	const iv = crypto.getRandomValues(new Uint8Array(12));
	const ciphertext = await crypto.subtle.encrypt(
		{ name: "AES-GCM", iv, additionalData: utf8.encode(chatId) },
		await sealingKey(secret, siteId),
		utf8.encode(JSON.stringify(value)),
	);
	return [FORMAT, keys.currentKid, base64url(iv), base64url(ciphertext)].join(".");
}

/** The opened JSON value, or undefined when the blob is malformed, altered, or sealed for another site or chat. */
export async function open(keys: SealingKeys, siteId: string, chatId: string, sealed: string): Promise<unknown> {
	const [format, kid, iv, ciphertext, extra] = sealed.split(".");
	if (format !== FORMAT || !kid || !iv || !ciphertext || extra !== undefined) return undefined;
	const secret = keys.secrets[kid];
	if (!secret) return undefined;
	try {
		const plain = await crypto.subtle.decrypt(
			{ name: "AES-GCM", iv: fromBase64url(iv), additionalData: utf8.encode(chatId) },
			await sealingKey(secret, siteId),
			fromBase64url(ciphertext),
		);
		return JSON.parse(new TextDecoder().decode(plain));
	} catch {
		return undefined;
	}
}
