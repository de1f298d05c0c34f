/** The isolate's verified tokens (src/security/tokens.ts): remembered, bounded, and never past exp or revocation. */
import { env } from "cloudflare:test";
import { Hono } from "hono";
import { sign } from "hono/jwt";
import { afterEach, describe, expect, it, vi } from "vitest";
import { requireToken } from "../src/auth.ts";
import { ApiError } from "../src/errors.ts";
import { keyRing } from "../src/security/keys.ts";
import { putMinimumTokenVersions } from "../src/security/revocation.ts";
import {
	signAgentToken,
	VERIFIED_TOKENS_KEPT,
	verifyToken,
} from "../src/security/tokens.ts";
import type { AppEnv } from "../src/auth.ts";

const secrets = {
	KEY_ID: "cache-k1",
	TOKEN_SECRET: "cache-token-secret-0123456789",
	CHAT_SIGNING_KEY: "cache-chat-signing-key-0123",
	STATE_SEALING_KEY: "cache-state-sealing-key-012",
};
/** A ring of its own, so that no other test's tokens share its cache. */
const ring = keyRing(secrets);
const chatId = "0b7e9b0e-3c55-4c3f-9a57-0c1d2e3f4a5b";
const nowS = () => Math.floor(Date.now() / 1000);

/** A visitor token under the ring's current secret (no kid: KEY_ID), expiring `inS` seconds from now. */
const visitorToken = (sub: string, inS = 3600) =>
	sign(
		{ sub, sid: "site-cache", cid: chatId, role: "visitor", exp: nowS() + inS },
		secrets.TOKEN_SECRET,
		"HS256"
	);

/** How many HMAC verifications `verifyToken` needed for these tokens. */
async function hmacsFor(tokens: string[]): Promise<number> {
	const hmac = vi.spyOn(crypto.subtle, "verify");
	try {
		for (const token of tokens) await verifyToken(ring, token);
		return hmac.mock.calls.length;
	} finally {
		hmac.mockRestore();
	}
}

afterEach(() => {
	vi.useRealTimers();
});

describe("verified tokens", () => {
	it("verifies a token's signature once, then remembers its claims", async () => {
		const token = await visitorToken("v-once");
		expect(await hmacsFor([token])).toBe(1);
		expect(await hmacsFor([token, token, token])).toBe(0);
		expect(await verifyToken(ring, token)).toMatchObject({
			sub: "v-once",
			role: "visitor",
		});
	});

	it("refuses a remembered token once it has expired", async () => {
		const token = await visitorToken("v-exp", 60);
		expect(await verifyToken(ring, token)).toBeDefined();
		vi.useFakeTimers({ toFake: ["Date"] });
		vi.setSystemTime(Date.now() + 59_000);
		expect(await verifyToken(ring, token)).toBeDefined();
		vi.setSystemTime(Date.now() + 1_000);
		expect(await verifyToken(ring, token)).toBeUndefined();
	});

	it("never remembers a token that failed", async () => {
		const forged = (await visitorToken("v-forged")).slice(0, -2) + "AA";
		expect(await verifyToken(ring, forged)).toBeUndefined();
		expect(await hmacsFor([forged])).toBe(1);
	});

	it(`keeps at most ${VERIFIED_TOKENS_KEPT} tokens, dropping the oldest`, async () => {
		const tokens = await Promise.all(
			Array.from({ length: VERIFIED_TOKENS_KEPT + 1 }, (_, i) =>
				visitorToken(`v-bound-${i}`)
			)
		);
		expect(await hmacsFor(tokens)).toBe(tokens.length);
		// The newest are still there; the first went when the last came in.
		expect(await hmacsFor(tokens.slice(-10))).toBe(0);
		expect(await hmacsFor([tokens[0]!])).toBe(1);
	});

	it("is per key ring: a ring without the token's key refuses it though another ring remembers it", async () => {
		const token = await visitorToken("v-ring");
		expect(await verifyToken(ring, token)).toBeDefined();
		const other = keyRing({
			...secrets,
			TOKEN_SECRET: "another-token-secret-012345678",
		});
		expect(await verifyToken(other, token)).toBeUndefined();
	});
});

describe("requireToken with a remembered token", () => {
	const app = new Hono<AppEnv>()
		.get("/sites/:siteId/me", requireToken, (c) => c.text(c.get("claims").sub))
		.onError((err, c) =>
			err instanceof ApiError
				? c.json(err.toBody(), err.status)
				: c.text("unexpected", 500)
		);

	it("still refuses it once the agent's tokens are revoked", async () => {
		const siteId = `site-${crypto.randomUUID().slice(0, 8)}`;
		const token = await signAgentToken(keyRing(env), {
			agentId: "agent-revoked",
			siteId,
			name: "Agent",
			agentRole: "agent",
			maxChats: 5,
			tokenVersion: 1,
		});
		const call = () =>
			app.request(
				`/sites/${siteId}/me`,
				{ headers: { Authorization: `Bearer ${token}` } },
				env
			);
		expect((await call()).status).toBe(200);
		await putMinimumTokenVersions(env.SITE_CONFIG, siteId, {
			"agent-revoked": 2,
		});
		const refused = await call();
		expect(refused.status).toBe(401);
		expect(await refused.json()).toMatchObject({
			error: { type: "unauthorized", message: "token revoked" },
		});
	});
});
