/**
 * The widget as availability changes (SPEC §9): after the offline form's thanks, a chat is offered
 * once an agent comes online; a network that goes away is said at the top of the panel until it is
 * back; and a site with departments asks the visitor which one, choosing none for them.
 */
import { describe, expect, it } from "vitest";
import { browserSuite } from "./harness.ts";
import {
	launcher,
	messageBox,
	online,
	openShop,
	send,
	shopPage,
	startChat,
	widgetSite,
} from "./widget-helpers.ts";

const suite = browserSuite({ port: 18981 });

describe("the widget as availability changes", () => {
	it("offers a chat again after the offline form's thanks, once an agent is online", async () => {
		const { siteId, agent } = await widgetSite(suite);
		const page = await shopPage(
			suite,
			await suite.context(),
			siteId,
			"visitor"
		);
		await launcher(page).click();
		await page.getByRole("textbox", { name: "Email" }).fill("olga@example.com");
		await page
			.getByRole("textbox", { name: "Message", exact: true })
			.fill("Do you ship to Norway?");
		await page.getByRole("button", { name: "Send message" }).click();
		await page
			.getByText(
				"Thank you! Your message has been sent. We will answer by email."
			)
			.waitFor({ timeout: 10_000 });

		await online(suite, siteId, agent);
		// The panel stays open: the widget asks again by itself (every 15 s).
		await page
			.getByRole("button", { name: "Start chatting" })
			.waitFor({ timeout: 45_000 });
		expect(await page.getByText(/Thank you!/).isVisible()).toBe(false);
		await page.getByRole("textbox", { name: /your name/i }).fill("Olga");
		await page.getByRole("button", { name: "Start chatting" }).click();
		await messageBox(page).waitFor({ timeout: 15_000 });
	});

	it("says the visitor is offline while the network is gone, and no more once it is back", async () => {
		const { context, page } = await openShop(suite, "visitor");
		await startChat(page);
		const offline = page.getByText(/You are offline\. Reconnecting…/);
		expect(await offline.count()).toBe(0);

		await context.setOffline(true);
		await offline.waitFor({ timeout: 10_000 });
		await send(page, "Written in a tunnel");
		await context.setOffline(false);
		await expect.poll(() => offline.count(), { timeout: 10_000 }).toBe(0);
		await expect
			.poll(
				() =>
					page
						.locator(".msg.visitor", { hasText: "Written in a tunnel" })
						.locator(".state")
						.innerText(),
				{ timeout: 40_000 }
			)
			.toBe("Sent");
	});

	it("asks which department, with none chosen for the visitor", async () => {
		const { page } = await openShop(suite, "visitor", {
			departments: ["Sales", "Support"],
		});
		let started: { department?: string } | undefined;
		page.on("request", (request) => {
			if (
				request.method() === "POST" &&
				new URL(request.url()).pathname.endsWith("/chats")
			)
				started = request.postDataJSON() as { department?: string };
		});
		await launcher(page).click();
		const department = page.getByRole("combobox", { name: "Department" });
		await department.waitFor();
		expect(await department.inputValue()).toBe("");
		expect(
			await department
				.locator("option")
				.evaluateAll((options) => options.map((o) => o.textContent))
		).toEqual(["Choose…", "Sales", "Support"]);

		await page.getByRole("textbox", { name: /your name/i }).fill("Dana");
		await page.getByRole("button", { name: "Start chatting" }).click();
		await expect
			.poll(() => page.getByRole("alert").textContent())
			.toBe("Department is needed.");
		expect(started).toBeUndefined();

		await department.selectOption("Support");
		await page.getByRole("button", { name: "Start chatting" }).click();
		await messageBox(page).waitFor({ timeout: 15_000 });
		expect(started?.department).toBe("Support");
	});
});
