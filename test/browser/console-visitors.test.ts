/**
 * The agent console's tracked visitors (SPEC §7, §9): a visitor browsing the site (its page socket
 * played in Node) is listed; the agent invites it to chat, and bans it.
 */
import { describe, expect, it } from "vitest";
import { FrameSocket, signIn, siteWithAgents } from "./console-helpers.ts";
import { browserSuite } from "./harness.ts";

const suite = browserSuite({ port: 18932 });

async function browsingVisitor(siteId: string, page: string, title: string) {
	const response = await fetch(`${suite.url}/v1/sites/${siteId}/visits`, {
		method: "POST",
		headers: { "Content-Type": "application/json" },
		body: JSON.stringify({ page, title }),
	});
	const { visitorState } = (await response.json()) as { visitorState: string };
	const socket = await FrameSocket.open(
		`${suite.url.replace(/^http/, "ws")}/v1/sites/${siteId}/visitors/me/ws`
	);
	socket.send({ type: "hello", visitorState, page, title });
	await socket.next((f) => f.type === "tracking");
	return { visitorState, socket };
}

describe("tracked visitors in the agent console", () => {
	it("lists a browsing visitor, invites it to chat, and bans it so that it cannot start a chat", async () => {
		const { siteId, agents } = await siteWithAgents(suite, [{ name: "Ann" }]);
		const page = await suite.page(
			await suite.context({ viewport: { width: 1200, height: 760 } }),
			"ann"
		);
		await signIn(suite, page, siteId, agents.Ann!.email);
		const visitor = await browsingVisitor(
			siteId,
			"https://shop.example/tents/alpine-2",
			"Alpine 2 tent"
		);

		await page.getByRole("tab", { name: "Visitors" }).click();
		const row = page.getByRole("row", { name: /Alpine 2 tent/ });
		await row.waitFor({ timeout: 15_000 });
		expect(await row.innerText()).toContain("Browsing");

		await row.getByRole("button", { name: /^Invite/ }).click();
		await page
			.getByLabel("Invitation message")
			.fill("Need help choosing a tent?");
		await page.getByRole("button", { name: "Send invitation" }).click();
		const invitation = await visitor.socket.next(
			(f) => f.type === "invitation"
		);
		expect(invitation).toMatchObject({
			agentName: "Ann",
			message: "Need help choosing a tent?",
		});
		await page.getByText("Invitation sent.").first().waitFor();

		await row.getByRole("button", { name: /^Ban/ }).click();
		await page.getByLabel("Reason").fill("Abusive language");
		await page.getByRole("button", { name: "Ban visitor" }).click();
		await expect
			.poll(() => row.innerText(), { timeout: 15_000 })
			.toContain("Banned");
		const start = await fetch(`${suite.url}/v1/sites/${siteId}/chats`, {
			method: "POST",
			headers: { "Content-Type": "application/json" },
			body: JSON.stringify({
				visitor: { name: "Banned" },
				visitorState: visitor.visitorState,
			}),
		});
		expect(start.status).toBe(403);
		expect(
			((await start.json()) as { error: { type: string } }).error.type
		).toBe("banned");
		visitor.socket.close();
	});
});
