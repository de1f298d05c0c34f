/**
 * The widget keeps a chat through what a browser goes through (SPEC §9): a reload (the
 * loader's socket notices a reply before anyone clicks), two tabs, an offline spell, and the
 * deployment restarting in memory mode, which loses every room (the widget's copy rebuilds it).
 */
import { describe, expect, it } from "vitest";
import { startLocalDeployment } from "../../scripts/local-deployment.ts";
import { browserSuite } from "./harness.ts";
import {
	agentContents,
	agentSend,
	assigned,
	inLog,
	launcher,
	openShop,
	send,
	shopPage,
	startChat,
} from "./widget-helpers.ts";

const PORT = 18911;
const suite = browserSuite({ port: PORT, chatState: "memory" });

describe("the widget through reloads, tabs, offline spells and restarts", () => {
	it("notices a reply after a reload without a click, and keeps two tabs in step", async () => {
		const { siteId, agent, context, page } = await openShop(suite, "tab-1");
		const chatId = await startChat(page);
		await send(page, "First question");
		await assigned(suite, siteId, chatId, agent);
		await page.reload();
		await launcher(page).waitFor();
		await agentSend(suite, siteId, chatId, agent, "Reply after the reload");
		await expect
			.poll(() => launcher(page).getAttribute("aria-label"), {
				timeout: 15_000,
			})
			.toMatch(/1 unread message/);
		await launcher(page).click();
		await inLog(page, "Reply after the reload").waitFor();
		await inLog(page, "First question").waitFor();

		const second = await shopPage(suite, context, siteId, "tab-2");
		await launcher(second).click();
		await inLog(second, "Reply after the reload").waitFor({ timeout: 10_000 });
		await send(page, "Sent from the first tab");
		await inLog(second, "Sent from the first tab").waitFor({ timeout: 10_000 });
		await send(second, "Sent from the second tab");
		await inLog(page, "Sent from the second tab").waitFor({ timeout: 10_000 });
		const all = await agentContents(suite, siteId, chatId, agent);
		expect(all.filter((c) => c === "Sent from the second tab")).toHaveLength(1);
	});

	it("sends what was written offline once the network is back, exactly once", async () => {
		const { siteId, agent, context, page } = await openShop(suite, "visitor");
		const chatId = await startChat(page);
		await assigned(suite, siteId, chatId, agent);
		await context.setOffline(true);
		await send(page, "Written on the train");
		// The widget knows the network is gone: it says so, and keeps the message as sending.
		await page
			.getByText("You are offline. Reconnecting…", { exact: false })
			.waitFor({ timeout: 15_000 });
		await page.getByText("Sending…").waitFor({ timeout: 15_000 });
		expect(await agentContents(suite, siteId, chatId, agent)).not.toContain(
			"Written on the train"
		);
		expect(await page.getByText("Sending…").count()).toBe(1);
		// Nothing raw on screen (an older widget read "no deployment answered: TypeError: Failed to fetch").
		expect(
			await page
				.getByText(
					/TypeError|Failed to fetch|no deployment answered|Unreachable/
				)
				.count()
		).toBe(0);
		await context.setOffline(false);
		await expect
			.poll(
				async () =>
					(await agentContents(suite, siteId, chatId, agent)).filter(
						(c) => c === "Written on the train"
					).length,
				{ timeout: 40_000 }
			)
			.toBe(1);
		await expect
			.poll(() => page.getByRole("alert").textContent(), { timeout: 15_000 })
			.toBe("");
		await page.reload();
		await launcher(page).click();
		await inLog(page, "Written on the train").waitFor();
		expect(await page.getByText("Sending…").count()).toBe(0);
	});

	it("rebuilds the chat from the widget after the deployment restarts and lost every room", async () => {
		const { siteId, agent, page } = await openShop(suite, "visitor");
		const chatId = await startChat(page);
		await send(page, "Before the restart");
		await assigned(suite, siteId, chatId, agent);
		await agentSend(suite, siteId, chatId, agent, "Agent before the restart");
		await inLog(page, "Agent before the restart").waitFor({ timeout: 10_000 });

		// Same port and state (sites, agents), memory mode: every room comes back empty.
		await suite.deployment.stop();
		suite.deployment = await startLocalDeployment({
			port: PORT,
			stateDir: suite.stateDir,
			chatState: "memory",
		});
		// The widget reconnects, is told the room has nothing, and uploads its copy; then a send goes through.
		await send(page, "After the restart");
		await expect
			.poll(
				async () =>
					await agentContents(suite, siteId, chatId, agent).catch(() => []),
				{ timeout: 60_000 }
			)
			.toEqual(
				expect.arrayContaining([
					"Before the restart",
					"Agent before the restart",
					"After the restart",
				])
			);
		await agentSend(suite, siteId, chatId, agent, "Agent after the restart");
		await inLog(page, "Agent after the restart").waitFor({ timeout: 15_000 });
		expect(await inLog(page, "Before the restart").count()).toBe(1);
	});
});
