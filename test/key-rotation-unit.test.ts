/** SPEC §6, key rotation: every verify path picks its key by kid, current or retired. */
import { sign } from "hono/jwt";
import { describe, expect, it } from "vitest";
import { keyRing } from "../src/security/keys.ts";
import {
	macIsCurrent,
	signMessage,
	verifyMessage,
} from "../src/security/message-mac.ts";
import { open, seal } from "../src/security/sealed-state.ts";
import {
	signAgentToken,
	signVisitorToken,
	verifyToken,
} from "../src/security/tokens.ts";
import type { KeyEnv } from "../src/security/keys.ts";

const k1 = {
	TOKEN_SECRET: "k1-token-secret-0123456789",
	CHAT_SIGNING_KEY: "k1-chat-signing-key-012345",
	STATE_SEALING_KEY: "k1-state-sealing-key-01234",
};
const k2 = {
	TOKEN_SECRET: "k2-token-secret-0123456789",
	CHAT_SIGNING_KEY: "k2-chat-signing-key-012345",
	STATE_SEALING_KEY: "k2-state-sealing-key-01234",
};
/** Before the rotation: k1 only. */
const before = keyRing({ KEY_ID: "k1", ...k1 });
/** After it: k2 signs, k1 still verifies. */
const after = keyRing({
	KEY_ID: "k2",
	...k2,
	PREVIOUS_KEYS: JSON.stringify({ k1 }),
});
/** k2 alone, once k1 has left PREVIOUS_KEYS. */
const k2Only = keyRing({ KEY_ID: "k2", ...k2, PREVIOUS_KEYS: "" });

const siteId = "site-rotation";
const chatId = "0b7e9b0e-3c55-4c3f-9a57-0c1d2e3f4a5b";
const message = {
	id: "6f1d2c3b-4a59-4687-9abc-def012345678",
	type: 1 as const,
	dataOffset: 1,
	sendTime: 1_700_000_000_000,
	senderId: "v1",
	content: "hello",
};
const header = (token: string) =>
	JSON.parse(
		atob(token.split(".")[0]!.replaceAll("-", "+").replaceAll("_", "/"))
	) as { alg: string; kid?: string };

describe("key ring", () => {
	it("parses PREVIOUS_KEYS once and keeps the current keys for the current kid", () => {
		expect(after.current).toMatchObject({
			kid: "k2",
			tokenSecret: k2.TOKEN_SECRET,
		});
		expect([...after.byKid.keys()].sort()).toEqual(["k1", "k2"]);
		expect(after.byKid.get("k1")).toMatchObject({
			signingKey: k1.CHAT_SIGNING_KEY,
			sealingKey: k1.STATE_SEALING_KEY,
		});
		// Same env strings, same ring: nothing is parsed again on the hot path.
		const env: KeyEnv = {
			KEY_ID: "k2",
			...k2,
			PREVIOUS_KEYS: JSON.stringify({ k1 }),
		};
		expect(keyRing(env)).toBe(keyRing({ ...env }));
		// An entry for the current kid does not replace the current keys.
		expect(
			keyRing({
				KEY_ID: "k2",
				...k2,
				PREVIOUS_KEYS: JSON.stringify({ k2: k1 }),
			}).current.tokenSecret
		).toBe(k2.TOKEN_SECRET);
		// Absent, empty and {} all mean no retired keys.
		for (const PREVIOUS_KEYS of [undefined, "", "{}"])
			expect([
				...keyRing({ KEY_ID: "k2", ...k2, PREVIOUS_KEYS }).byKid.keys(),
			]).toEqual(["k2"]);
	});

	it("refuses a malformed PREVIOUS_KEYS or KEY_ID loudly, naming no secret", () => {
		for (const PREVIOUS_KEYS of [
			"{not json",
			"[]",
			JSON.stringify({ k1: { TOKEN_SECRET: k1.TOKEN_SECRET } }),
			JSON.stringify({ "k.1": k1 }),
		]) {
			expect(
				() => keyRing({ KEY_ID: "k2", ...k2, PREVIOUS_KEYS }),
				PREVIOUS_KEYS
			).toThrow(/PREVIOUS_KEYS/);
		}
		expect(() => keyRing({ KEY_ID: "k.2", ...k2 })).toThrow(/KEY_ID/);
		const weak = () =>
			keyRing({
				KEY_ID: "k2",
				...k2,
				PREVIOUS_KEYS: JSON.stringify({
					k1: { ...k1, TOKEN_SECRET: "too-short" },
				}),
			});
		expect(weak).toThrow(
			/PREVIOUS_KEYS\["k1"\]\["TOKEN_SECRET"\]: a secret has at least 16 characters/
		);
		expect(weak).not.toThrow(/too-short/);
	});
});

describe("tokens", () => {
	it("carry the current kid and verify under it", async () => {
		const token = await signVisitorToken(after, {
			visitorId: "v1",
			siteId,
			chatId,
		});
		expect(header(token)).toEqual({ alg: "HS256", typ: "JWT", kid: "k2" });
		expect(await verifyToken(after, token)).toMatchObject({
			sub: "v1",
			sid: siteId,
			cid: chatId,
			role: "visitor",
		});
	});

	it("made under a retired key still verify while it is in PREVIOUS_KEYS, and not after", async () => {
		const token = await signAgentToken(before, {
			agentId: "a1",
			siteId,
			name: "Ann",
			agentRole: "supervisor",
			maxChats: 3,
			tokenVersion: 2,
		});
		expect(header(token).kid).toBe("k1");
		expect(await verifyToken(after, token)).toMatchObject({
			sub: "a1",
			role: "agent",
			name: "Ann",
			agentRole: "supervisor",
			maxChats: 3,
			tv: 2,
		});
		expect(await verifyToken(k2Only, token)).toBeUndefined();
	});

	it("without a kid are read as made under KEY_ID", async () => {
		const exp = Math.floor(Date.now() / 1000) + 60;
		const legacy = await sign(
			{ sub: "v1", sid: siteId, cid: chatId, role: "visitor", exp },
			k2.TOKEN_SECRET,
			"HS256"
		);
		expect(header(legacy).kid).toBeUndefined();
		expect(await verifyToken(after, legacy)).toMatchObject({ sub: "v1" });
		// Not under a retired key: before the rotation it was k1's, and k1 is not KEY_ID any more.
		const legacyK1 = await sign(
			{ sub: "v1", sid: siteId, cid: chatId, role: "visitor", exp },
			k1.TOKEN_SECRET,
			"HS256"
		);
		expect(await verifyToken(before, legacyK1)).toMatchObject({ sub: "v1" });
		expect(await verifyToken(after, legacyK1)).toBeUndefined();
	});

	it("with an unknown kid, a kid that lies about its key, or a forged signature are refused", async () => {
		const elsewhere = keyRing({ KEY_ID: "k9", ...k2 });
		expect(
			await verifyToken(
				after,
				await signVisitorToken(elsewhere, { visitorId: "v1", siteId, chatId })
			)
		).toBeUndefined();
		const liar = keyRing({ KEY_ID: "k2", ...k1 });
		expect(
			await verifyToken(
				after,
				await signVisitorToken(liar, { visitorId: "v1", siteId, chatId })
			)
		).toBeUndefined();
		const [h, p] = (
			await signVisitorToken(after, { visitorId: "v1", siteId, chatId })
		).split(".");
		const forgedPayload = btoa(
			JSON.stringify({
				sub: "v2",
				sid: siteId,
				cid: chatId,
				role: "visitor",
				exp: 9e9,
			})
		).replace(/=+$/, "");
		const signature = (
			await signVisitorToken(after, { visitorId: "v1", siteId, chatId })
		).split(".")[2];
		expect(
			await verifyToken(after, `${h}.${forgedPayload}.${signature}`)
		).toBeUndefined();
		expect(await verifyToken(after, `${h}.${p}`)).toBeUndefined();
	});

	it("issued before agent roles, limits and versions existed read as a plain agent at version 0", async () => {
		const exp = Math.floor(Date.now() / 1000) + 60;
		const old = await sign(
			{ sub: "a1", sid: siteId, role: "agent", name: "Ann", exp },
			k2.TOKEN_SECRET,
			"HS256"
		);
		expect(await verifyToken(after, old)).toMatchObject({
			agentRole: "agent",
			tv: 0,
		});
	});
});

describe("message macs", () => {
	it('are "<kid>." + base64url(HMAC) under the current key', async () => {
		const mac = await signMessage(after, siteId, chatId, message);
		expect(mac).toMatch(/^k2\.[A-Za-z0-9_-]{43}$/);
		expect(
			await verifyMessage(after, siteId, chatId, { ...message, mac })
		).toBe(true);
		expect(macIsCurrent(after, mac)).toBe(true);
	});

	it("made under a retired key verify while it is in PREVIOUS_KEYS, and are not current", async () => {
		const mac = await signMessage(before, siteId, chatId, message);
		expect(mac.startsWith("k1.")).toBe(true);
		expect(
			await verifyMessage(after, siteId, chatId, { ...message, mac })
		).toBe(true);
		expect(macIsCurrent(after, mac)).toBe(false);
		expect(
			await verifyMessage(k2Only, siteId, chatId, { ...message, mac })
		).toBe(false);
	});

	it("without a prefix are read as made under KEY_ID", async () => {
		const bare = (await signMessage(after, siteId, chatId, message)).slice(
			"k2.".length
		);
		expect(
			await verifyMessage(after, siteId, chatId, { ...message, mac: bare })
		).toBe(true);
		expect(macIsCurrent(after, bare)).toBe(true);
		const bareK1 = (await signMessage(before, siteId, chatId, message)).slice(
			"k1.".length
		);
		expect(
			await verifyMessage(after, siteId, chatId, { ...message, mac: bareK1 })
		).toBe(false);
	});

	it("refuse an unknown kid, a kid that lies about its key, altered content and garbage", async () => {
		const mac = await signMessage(before, siteId, chatId, message);
		for (const bad of [
			mac.replace(/^k1\./, "k9."),
			mac.replace(/^k1\./, "k2."),
			"k1.!!!",
			"k1.",
			".",
		]) {
			expect(
				await verifyMessage(after, siteId, chatId, { ...message, mac: bad }),
				bad
			).toBe(false);
		}
		expect(
			await verifyMessage(after, siteId, chatId, {
				...message,
				content: "hellO",
				mac,
			})
		).toBe(false);
		expect(
			await verifyMessage(after, siteId, "another-chat", { ...message, mac })
		).toBe(false);
	});
});

describe("sealed state", () => {
	it("sealed under a retired key opens while it is in PREVIOUS_KEYS, and not after", async () => {
		const sealed = await seal(before, siteId, chatId, { v: 1, hello: "world" });
		expect(sealed.startsWith("s1.k1.")).toBe(true);
		expect(await open(after, siteId, chatId, sealed)).toEqual({
			v: 1,
			hello: "world",
		});
		expect(await open(k2Only, siteId, chatId, sealed)).toBeUndefined();
	});

	it("is sealed under the current key, and a kid that lies about its key does not open", async () => {
		const sealed = await seal(after, siteId, chatId, { v: 2 });
		expect(sealed.startsWith("s1.k2.")).toBe(true);
		expect(await open(after, siteId, chatId, sealed)).toEqual({ v: 2 });
		expect(
			await open(after, siteId, chatId, sealed.replace("s1.k2.", "s1.k1."))
		).toBeUndefined();
		expect(
			await open(after, siteId, chatId, sealed.replace("s1.k2.", "s1.k9."))
		).toBeUndefined();
	});
});
