/**
 * SPEC §10 for real: two local deployments (two `npm start`s, separate state), a chat that moves
 * from the first to the second when the first stops, then back when it returns.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LiveChatClient } from "../../client/index.ts";
import { startLocalDeployment } from "../../scripts/local-deployment.ts";
import { demoChat, expectIdentical, serverCopy } from "./copies.ts";
import type { LocalDeployment } from "../../scripts/local-deployment.ts";

const PRIMARY_PORT = 18787;
const SECONDARY_PORT = 18788;
const stateRoot = mkdtempSync(join(tmpdir(), "elc-failover-"));
const primaryOptions = {
	port: PRIMARY_PORT,
	stateDir: join(stateRoot, "primary"),
};
let primary: LocalDeployment;
let secondary: LocalDeployment;

interface Call {
	port: string;
	path: string;
	code?: number;
	uploaded?: number;
}

function recordingFetch(calls: Call[]): typeof fetch {
	return async (input, init) => {
		const url = new URL(String(input));
		const response = await fetch(input, init);
		const body = (await response
			.clone()
			.json()
			.catch(() => undefined)) as { code?: number } | undefined;
		const uploaded = url.pathname.endsWith("/rebuild")
			? (JSON.parse(String(init?.body)) as { messages: unknown[] }).messages
					.length
			: undefined;
		calls.push({
			port: url.port,
			path: url.pathname.replace(/^.*\/chats\/[^/]+/, ""),
			code: body?.code,
			uploaded,
		});
		return response;
	};
}

async function converse(
	visitor: LiveChatClient,
	agent: LiveChatClient,
	label: string,
	turns = 2
) {
	for (let i = 1; i <= turns; i++) {
		await visitor.send(`${label}: visitor ${i}`);
		await agent.poll();
		await agent.send(`${label}: agent ${i}`);
		await visitor.poll();
	}
}

beforeAll(async () => {
	[primary, secondary] = await Promise.all([
		startLocalDeployment(primaryOptions),
		startLocalDeployment({
			port: SECONDARY_PORT,
			stateDir: join(stateRoot, "secondary"),
		}),
	]);
});

afterAll(async () => {
	await Promise.all([primary?.stop(), secondary?.stop()]);
	rmSync(stateRoot, { recursive: true, force: true });
});

describe("failover between two deployments", () => {
	it("continues a chat on the secondary when the primary stops, and on the primary again when it returns", async () => {
		const calls: Call[] = [];
		const transport = {
			baseUrls: [primary.url, secondary.url],
			fetch: recordingFetch(calls),
			failBackAfterMs: 1000,
			backoffMs: 50,
		};
		const { visitor, agent } = await demoChat(transport, "Failover Fred");

		await converse(visitor, agent, "on the primary");
		// The agent says one more thing the visitor has not fetched when the primary goes away.
		await agent.send("one last thing before the outage");
		const beforeOutage = agent.messages;
		await primary.stop();

		calls.length = 0;
		await visitor.send("hello? (primary is down)");
		await agent.poll();
		const onSecondary = calls.filter((c) => c.port === String(SECONDARY_PORT));
		// The secondary had nothing: both clients rebuilt it, the visitor in full, the agent with what only it held.
		expect(onSecondary[0]).toMatchObject({ path: "/messages", code: 1 });
		const rebuilds = onSecondary.filter((c) => c.path === "/rebuild");
		expect(rebuilds.map((c) => c.uploaded)).toEqual([
			beforeOutage.length - 1,
			1,
		]);
		expect(visitor.baseUrl).toBe(secondary.url);

		await converse(visitor, agent, "on the secondary");
		expectIdentical([
			visitor.messages,
			agent.messages,
			await serverCopy(secondary.url, visitor),
		]);
		const lastOnSecondary = visitor.messages;

		primary = await startLocalDeployment(primaryOptions);
		await new Promise((resolve) => setTimeout(resolve, 1100)); // past failBackAfterMs
		calls.length = 0;
		await visitor.send("back on the primary?");
		await agent.poll();
		await agent.send("yes, back on the primary");
		await visitor.poll();

		const onPrimary = calls.filter((c) => c.port === String(PRIMARY_PORT));
		expect(onPrimary.length).toBe(calls.length);
		// Durable storage kept what the primary had; only what happened on the secondary went back.
		const primaryRebuilds = onPrimary.filter((c) => c.path === "/rebuild");
		const newOnSecondary = lastOnSecondary.length - beforeOutage.length;
		expect(primaryRebuilds.reduce((n, c) => n + (c.uploaded ?? 0), 0)).toBe(
			newOnSecondary
		);

		const server = await serverCopy(primary.url, visitor);
		expectIdentical([visitor.messages, agent.messages, server]);
		expect(server.slice(0, lastOnSecondary.length)).toEqual(lastOnSecondary);
		expect(
			server.map((m) => m.content).filter((c) => !c.includes("joined"))
		).toHaveLength(4 + 1 + 1 + 4 + 2);
	});
});
