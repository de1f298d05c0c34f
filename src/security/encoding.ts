const BASE64URL =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/** Unpadded base64url, three bytes to four characters: it runs for every message's mac and every sealed state. */
export function base64url(bytes: ArrayBuffer | Uint8Array): string {
	const view = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
	const char = (n: number) => BASE64URL[n & 63]!;
	let out = "";
	let i = 0;
	for (; i + 2 < view.length; i += 3) {
		const n = (view[i]! << 16) | (view[i + 1]! << 8) | view[i + 2]!;
		out += char(n >> 18) + char(n >> 12) + char(n >> 6) + char(n);
	}
	if (i < view.length) {
		const n = (view[i]! << 16) | ((view[i + 1] ?? 0) << 8);
		out += char(n >> 18) + char(n >> 12);
		if (i + 1 < view.length) out += char(n >> 6);
	}
	return out;
}

export function fromBase64url(text: string): Uint8Array<ArrayBuffer> {
	if (!/^[A-Za-z0-9_-]*$/.test(text)) throw new Error("not base64url");
	const binary = atob(text.replaceAll("-", "+").replaceAll("_", "/"));
	const bytes = new Uint8Array(binary.length);
	for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
	return bytes;
}

export const utf8 = new TextEncoder();

export function hex(bytes: ArrayBuffer | Uint8Array): string {
	const view = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
	return [...view].map((b) => b.toString(16).padStart(2, "0")).join("");
}

export async function sha256Hex(text: string): Promise<string> {
	return hex(await crypto.subtle.digest("SHA-256", utf8.encode(text)));
}

/** Standard base64 of the UTF-8 bytes (email bodies, basic auth). */
export function base64Utf8(text: string): string {
	let binary = "";
	for (const byte of utf8.encode(text)) binary += String.fromCharCode(byte);
	return btoa(binary);
}
