/** PBKDF2-SHA256; 100,000 iterations is the most the Workers runtime allows. */
import { base64url, fromBase64url, utf8 } from "./encoding.ts";

const ITERATIONS = 100_000;

async function derive(
	password: string,
	salt: Uint8Array<ArrayBuffer>,
	iterations: number
): Promise<ArrayBuffer> {
	const base = await crypto.subtle.importKey(
		"raw",
		utf8.encode(password),
		"PBKDF2",
		false,
		["deriveBits"]
	);
	return crypto.subtle.deriveBits(
		{ name: "PBKDF2", hash: "SHA-256", salt, iterations },
		base,
		256
	);
}

export async function hashPassword(password: string): Promise<string> {
	const salt = crypto.getRandomValues(new Uint8Array(16));
	const hash = await derive(password, salt, ITERATIONS);
	return `pbkdf2-sha256$${ITERATIONS}$${base64url(salt)}$${base64url(hash)}`;
}

export async function verifyPassword(
	password: string,
	stored: string
): Promise<boolean> {
	const [scheme, iterations, salt, hash] = stored.split("$");
	if (scheme !== "pbkdf2-sha256" || !iterations || !salt || !hash) return false;
	const actual = new Uint8Array(
		await derive(password, fromBase64url(salt), Number(iterations))
	);
	const expected = fromBase64url(hash);
	if (actual.length !== expected.length) return false;
	let diff = 0;
	for (let i = 0; i < actual.length; i++) diff |= actual[i]! ^ expected[i]!;
	return diff === 0;
}
