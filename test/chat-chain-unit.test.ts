import { describe, expect, it } from "vitest";
import { chainStep } from "../durable-objects/chat-chain.ts";
import { ChatLog } from "../durable-objects/chat-model.ts";
import { parseJsonText } from "../src/protocol/json-text.ts";
import type { ChatMessage } from "../src/protocol/chat.ts";

const id = (n: number, tag = "a") =>
	`00000000-0000-4000-8000-${tag.repeat(1)}${String(n).padStart(11, "0")}`;
const msg = (
	type: 1 | 2,
	dataOffset: number,
	mid = id(dataOffset, type === 1 ? "a" : "b")
): ChatMessage => ({
	id: mid,
	type,
	dataOffset,
	content: `m${dataOffset}`,
	sendTime: 1000 + dataOffset,
	mac: "x",
});

describe("stream chains (SPEC §3)", () => {
	it("chain(n) is base64url of the first 16 bytes of SHA-256 over chain(n−1) followed by id(n)", async () => {
		// Computed independently: printf '%s' 'abc' | sha256sum → ba7816bf8f01cfea414140de5dae2223…, first 16 bytes in base64url.
		expect(await chainStep("", "abc")).toBe("ungWv48Bz-pBQUDeXa4iIw");
		const one = await chainStep("", id(1));
		expect(one).toMatch(/^[A-Za-z0-9_-]{22}$/);
		expect(await chainStep(one, id(2))).not.toBe(await chainStep("", id(2)));
	});

	it("equal offsets with a different message below them are found in one comparison", async () => {
		const mine = new ChatLog([1, 2, 3, 4, 5, 6, 7].map((n) => msg(1, n)));
		const theirs = new ChatLog([
			...[1, 2, 3, 4, 5].map((n) => msg(1, n)),
			msg(1, 6, id(6, "c")),
			msg(1, 7),
		]);
		expect(mine.offsets).toEqual(theirs.offsets);
		const chains = await theirs.chainsAtOffsets();
		expect(await mine.diverged(theirs.offsets, chains)).toEqual(["visitor"]);
		// At a lower offset where both agree, nothing differs.
		expect(
			await mine.diverged(
				{ visitorDataOffset: 5, agentDataOffset: 0 },
				{ visitorChain: await theirs.chainAt("visitor", 5) }
			)
		).toEqual([]);
		// No chain sent, or a caller ahead of this copy: not checked.
		expect(await mine.diverged(theirs.offsets, {})).toEqual([]);
		expect(
			await mine.diverged(
				{ visitorDataOffset: 8, agentDataOffset: 0 },
				{ visitorChain: chains.visitorChain }
			)
		).toEqual([]);
	});

	it("follows changes to the copy: a message moved by place() changes the chains above it", async () => {
		const log = new ChatLog([msg(1, 1), msg(1, 2), msg(2, 1)]);
		const before = await log.chainAt("visitor", 2);
		const agentBefore = await log.chainAt("agent", 1);
		log.place(msg(1, 2, id(2, "d")));
		expect(await log.chainAt("visitor", 2)).not.toBe(before);
		expect(await log.chainAt("agent", 1)).toBe(agentBefore);
		log.append(msg(1, 3));
		expect(await log.chainAt("visitor", 3)).toBe(
			await chainStep(await log.chainAt("visitor", 2), id(3))
		);
	});
});

describe("JSON from outside (SPEC §6)", () => {
	it("refuses lone surrogates anywhere, escaped or raw, keys included", () => {
		for (const raw of [
			'{"content":"a\\ud800"}',
			'{"a\\udc00":1}',
			`{"content":"a\ud801"}`,
			'["\\udfff"]',
		]) {
			expect(parseJsonText(raw)).toMatchObject({ ok: false });
		}
		expect(parseJsonText('{"content":"😀 \\ud83d\\ude00"}')).toEqual({
			ok: true,
			value: { content: "😀 😀" },
		});
	});

	it("refuses nesting deeper than the limit before parsing, brackets inside strings not counted", () => {
		expect(parseJsonText("[".repeat(7000) + "]".repeat(7000))).toMatchObject({
			ok: false,
		});
		expect(
			parseJsonText(JSON.stringify({ a: "[[[[[[[[[[[[[[[[" }))
		).toMatchObject({ ok: true });
		expect(
			parseJsonText(JSON.stringify({ a: { b: { c: [1] } } }))
		).toMatchObject({ ok: true });
	});
});
