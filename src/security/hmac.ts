import { utf8 } from "./encoding.ts";

/** Imported once per isolate and secret: importKey is not free, and the send path needs two HMACs. */
const keys = new Map<string, Promise<CryptoKey>>();

export function hmacKey(secret: string): Promise<CryptoKey> {
	let key = keys.get(secret);
	if (!key) {
		key = crypto.subtle.importKey(
			"raw",
			utf8.encode(secret),
			{ name: "HMAC", hash: "SHA-256" },
			false,
			["sign", "verify"]
		);
		keys.set(secret, key);
	}
	return key;
}
