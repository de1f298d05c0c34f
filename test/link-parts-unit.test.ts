import { describe, expect, it } from "vitest";
import { linkParts } from "../web/link-parts.ts";

describe("linkParts (links in messages, widget and console)", () => {
	it("cuts http(s) URLs out of the text, without the punctuation that ends a sentence", () => {
		expect(
			linkParts("See https://example.com/a?b=1. Or (http://x.test/y)!")
		).toEqual([
			{ text: "See " },
			{ text: "https://example.com/a?b=1", href: "https://example.com/a?b=1" },
			{ text: ". Or (" },
			{ text: "http://x.test/y", href: "http://x.test/y" },
			{ text: ")!" },
		]);
	});

	it("links no other scheme, and leaves markup as text", () => {
		const text =
			'javascript:alert(1) data:text/html,x <a href="https://e.test">x</a>';
		expect(linkParts(text)).toEqual([
			{ text: 'javascript:alert(1) data:text/html,x <a href="' },
			{ text: "https://e.test", href: "https://e.test" },
			{ text: '">x</a>' },
		]);
	});

	it("keeps text without links whole, and an empty text empty", () => {
		expect(linkParts("no link here")).toEqual([{ text: "no link here" }]);
		expect(linkParts("")).toEqual([]);
	});
});
