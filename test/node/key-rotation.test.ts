/**
 * SPEC §6, key rotation, for real: keys rotate in the middle of a chat. The primary runs on k1; the
 * secondary already on k2 with k1 retired (PREVIOUS_KEYS). The clients hold k1 tokens, macs and
 * sealed state when the primary stops; the secondary rebuilds the chat from them. Then the primary
 * comes back rotated too, and the clients fail back to it. Nobody logs in again, nothing is lost.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LiveChatClient } from "../../client/index.ts";
import { startLocalDeployment } from "../../scripts/local-deployment.ts";
import { demoChat, expectIdentical, serverCopy } from "./copies.ts";
import type { LocalDeployment } from "../../scripts/local-deployment.ts";

const PRIMARY_PORT = 18797;
const SECONDARY_PORT = 18798;
const k1 = {
	TOKEN_SECRET: "rotation-k1-token-secret-0123456789",
	CHAT_SIGNING_KEY: "rotation-k1-chat-signing-key-012345",
	STATE_SEALING_KEY: "rotation-k1-state-sealing-key-01234",
};
const k2 = {
	TOKEN_SECRET: "rotation-k2-token-secret-0123456789",
	CHAT_SIGNING_KEY: "rotation-k2-chat-signing-key-012345",
	STATE_SEALING_KEY: "rotation-k2-state-sealing-key-01234",
};
const beforeRotation = { KEY_ID: "k1", ...k1, PREVIOUS_KEYS: "{}" };
const afterRotation = {
	KEY_ID: "k2",
	...k2,
	PREVIOUS_KEYS: JSON.stringify({ k1 }),
};

const stateRoot = mkdtempSync(join(tmpdir(), "elc-rotation-"));
const primaryOptions = {
	port: PRIMARY_PORT,
	stateDir: join(stateRoot, "primary"),
};
let primary: LocalDeployment;
let secondary: LocalDeployment;

const kidOfToken = (token: string) =>
	(
		JSON.parse(Buffer.from(token.split(".")[0]!, "base64url").toString()) as {
			kid?: string;
		}
	).kid;
const kidOfMac = (mac: string) => mac.slice(0, mac.indexOf("."));

async function converse(
	visitor: LiveChatClient,
	agent: LiveChatClient,
	label: string
) {
	await visitor.send(`${label}: visitor`);
	await agent.poll();
	await agent.send(`${label}: agent`);
	await visitor.poll();
}

beforeAll(async () => {
	[primary, secondary] = await Promise.all([
		startLocalDeployment({ ...primaryOptions, keys: beforeRotation }),
		startLocalDeployment({
			port: SECONDARY_PORT,
			stateDir: join(stateRoot, "secondary"),
			keys: afterRotation,
		}),
	]);
});

afterAll(async () => {
	await Promise.all([primary?.stop(), secondary?.stop()]);
	rmSync(stateRoot, { recursive: true, force: true });
});

describe("key rotation", () => {
	it("rotates the keys mid-chat, then rebuilds and fails over with no client locked out", async () => {
		const transport = {
			baseUrls: [primary.url, secondary.url],
			failBackAfterMs: 1000,
			backoffMs: 50,
		};
		const { visitor, agent } = await demoChat(transport, "Rotating Rosa");
		expect([kidOfToken(visitor.token), kidOfToken(agent.token)]).toEqual([
			"k1",
			"k1",
		]);

		await converse(visitor, agent, "before the rotation");
		expect(new Set(visitor.messages.map((m) => kidOfMac(m.mac)))).toEqual(
			new Set(["k1"])
		);
		await primary.stop();

		// The secondary, on k2, has never seen the chat: the clients rebuild it with what k1 gave them.
		await converse(visitor, agent, "on the rotated secondary");
		expect(visitor.baseUrl).toBe(secondary.url);
		const onSecondary = await serverCopy(secondary.url, visitor);
		expectIdentical([visitor.messages, agent.messages, onSecondary], {
			ignoreMacs: true,
		});
		// Re-signed as it was rebuilt: the chat outlives k1.
		expect(new Set(onSecondary.map((m) => kidOfMac(m.mac)))).toEqual(
			new Set(["k2"])
		);

		// The primary comes back rotated as well; its storage still holds the chat as k1 left it.
		primary = await startLocalDeployment({
			...primaryOptions,
			keys: afterRotation,
		});
		await new Promise((resolve) => setTimeout(resolve, 1100)); // past failBackAfterMs
		await converse(visitor, agent, "back on the rotated primary");
		expect(visitor.baseUrl).toBe(primary.url);
		const onPrimary = await serverCopy(primary.url, visitor);
		expectIdentical([visitor.messages, agent.messages, onPrimary], {
			ignoreMacs: true,
		});
		// What the primary gained while it was away came under k2.
		expect(onPrimary.slice(-2).map((m) => kidOfMac(m.mac))).toEqual([
			"k2",
			"k2",
		]);
		expect(
			onPrimary.map((m) => m.content).filter((c) => !c.includes("joined"))
		).toEqual([
			"before the rotation: visitor",
			"before the rotation: agent",
			"on the rotated secondary: visitor",
			"on the rotated secondary: agent",
			"back on the rotated primary: visitor",
			"back on the rotated primary: agent",
		]);
		// The k1 tokens were never replaced; a new login is under k2.
		expect([kidOfToken(visitor.token), kidOfToken(agent.token)]).toEqual([
			"k1",
			"k1",
		]);
		const again = await LiveChatClient.agentLogin({
			...transport,
			siteId: "demo",
			email: "agent@demo.local",
			password: "demo-password",
		});
		expect(kidOfToken(again.token)).toBe("k2");
	});
});
