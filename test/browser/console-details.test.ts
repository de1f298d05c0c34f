/**
 * Details of the agent console a person relies on (SPEC §9): the queue's hint follows the site's
 * routing mode when an admin switches it, the invite list offers only colleagues who can join now
 * (online, with room), and links in messages are clickable, safely. The visitor is played over the API.
 */
import { describe, expect, it } from "vitest";
import { ApiVisitor, consoleOf, siteWithAgents } from "./console-helpers.ts";
import { browserSuite } from "./harness.ts";

const suite = browserSuite({ port: 18982 });

describe("details of the agent console", () => {
	it("says how chats reach agents after an admin switched the site to manual routing", async () => {
		const { siteId, agents } = await siteWithAgents(suite, [{ name: "Ann" }], {
			routing: { mode: "auto", sticky: true },
		});
		const ann = await consoleOf(suite, "ann", siteId, agents.Ann!.email);
		const hint = ann.getByRole("region", { name: "Waiting visitors" });
		await hint.getByText(/routed to agents automatically/).waitFor();

		await suite.admin("PUT", `/sites/${siteId}`, {
			name: "Console test",
			routing: { mode: "manual", sticky: true },
		});
		// The console stays on the queue: the hint changes by itself (the view reads the config every
		// 20 s; an isolate may hold the old config up to 30 s more, SPEC §15).
		await hint
			.getByText("Take a chat from the queue to answer it.")
			.waitFor({ timeout: 60_000 });
		expect(await hint.getByText(/routed to agents automatically/).count()).toBe(
			0
		);
	});

	it("offers only online colleagues with room in the invite list", async () => {
		const { siteId, agents } = await siteWithAgents(suite, [
			{ name: "Ann" },
			{ name: "Ben" },
			{ name: "Cleo" },
		]);
		const ann = await consoleOf(suite, "ann", siteId, agents.Ann!.email);
		await consoleOf(suite, "ben", siteId, agents.Ben!.email);
		// Cleo never signs in: offline.
		await ApiVisitor.start(suite.url, siteId, "Oskar");
		await ann
			.getByRole("button", { name: "Accept chat with Oskar" })
			.click({ timeout: 15_000 });
		const invite = ann.getByLabel("Invite");
		await expect
			.poll(
				() =>
					invite
						.locator("option")
						.evaluateAll((options) => options.map((o) => o.textContent)),
				{ timeout: 15_000 }
			)
			.toEqual(["Invite an agent…", "Ben"]);
	});

	it("makes http(s) links in messages clickable, in a new tab without opener, and nothing else", async () => {
		const { siteId, agents } = await siteWithAgents(suite, [{ name: "Ann" }]);
		const ann = await consoleOf(suite, "ann", siteId, agents.Ann!.email);
		const visitor = await ApiVisitor.start(suite.url, siteId, "Lina");
		await ann
			.getByRole("button", { name: "Accept chat with Lina" })
			.click({ timeout: 15_000 });
		await visitor.send(
			'Tracking: https://example.com/track?id=7. Also <img src=x onerror="alert(1)"> and javascript:alert(1)'
		);
		const log = ann.getByRole("list", { name: "Messages with Lina" });
		const link = log.getByRole("link", {
			name: "https://example.com/track?id=7",
		});
		await link.waitFor({ timeout: 15_000 });
		expect(await link.getAttribute("href")).toBe(
			"https://example.com/track?id=7"
		);
		expect(await link.getAttribute("target")).toBe("_blank");
		expect((await link.getAttribute("rel"))?.split(" ")).toEqual(
			expect.arrayContaining(["noopener", "noreferrer"])
		);
		expect(await log.getByRole("link").count()).toBe(1);
		expect(await log.locator("img").count()).toBe(0);
		await log.getByText(/<img src=x onerror="alert\(1\)">/).waitFor();
	});
});
