import { describe, expect, it } from "vitest";
import { base64url, fromBase64url } from "../src/security/encoding.ts";

/** RFC 4648 §5 by the long way: the platform's base64, its two characters swapped, padding dropped. */
const reference = (bytes: Uint8Array) =>
	btoa(String.fromCharCode(...bytes))
		.replaceAll("+", "-")
		.replaceAll("/", "_")
		.replace(/=+$/, "");

describe("base64url", () => {
	it("matches RFC 4648's base64url without padding at every length's remainder", () => {
		for (let length = 0; length <= 67; length++) {
			const bytes = crypto.getRandomValues(new Uint8Array(length));
			expect(base64url(bytes)).toBe(reference(bytes));
			expect(base64url(bytes.buffer)).toBe(reference(bytes));
			expect([...fromBase64url(base64url(bytes))]).toEqual([...bytes]);
		}
	});

	it("uses - and _ where base64 has + and /", () => {
		expect(base64url(new Uint8Array([0xfb, 0xff, 0xbf]))).toBe("-_-_");
		expect(base64url(new Uint8Array([0xff]))).toBe("_w");
		expect(base64url(new Uint8Array([0xff, 0xee]))).toBe("_-4");
	});
});
