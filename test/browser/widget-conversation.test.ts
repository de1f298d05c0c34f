/**
 * A whole conversation in the widget (SPEC §9), the agent played over the API: the site's
 * greeting and title, typing and read receipts both ways, agent names and times, a link made
 * clickable while HTML stays text, the unread badge and title flash, the end with a rating, and a
 * new chat after it. Takes the README's screenshot (docs/widget.png).
 */
import { describe, expect, it } from "vitest";
import { browserSuite, readmeScreenshot } from "./harness.ts";
import {
	agentRead,
	agentSend,
	agentSocket,
	assigned,
	call,
	inLog,
	launcher,
	messageBox,
	online,
	send,
	shopPage,
	startChat,
	widgetSite,
} from "./widget-helpers.ts";

const suite = browserSuite({ port: 18910 });

describe("a conversation in the widget", () => {
	it("greets, shows typing, read receipts, names, times and links, badges unread replies, and ends with a rating", async () => {
		const { siteId, agent } = await widgetSite(suite, {
			title: "Acme help",
			greeting: "Hi! Ask us anything about tents.",
			color: "#0b6e4f",
		});
		await online(suite, siteId, agent);
		const context = await suite.context({
			viewport: { width: 1100, height: 760 },
		});
		const page = await shopPage(suite, context, siteId, "visitor");
		const chatId = await startChat(page);
		await expect
			.poll(() => page.getByRole("heading", { name: "Acme help" }).isVisible())
			.toBe(true);
		await expect
			.poll(() =>
				page
					.locator(".log")
					.getByText("Hi! Ask us anything about tents.")
					.isVisible()
			)
			.toBe(true);

		await send(
			page,
			"Hello, my order https://example.com/orders/42. has a torn tent"
		);
		await assigned(suite, siteId, chatId, agent);
		const link = page.getByRole("link", {
			name: "https://example.com/orders/42",
		});
		await link.waitFor();
		expect(await link.getAttribute("rel")).toContain("noopener");

		const socket = await agentSocket(suite, siteId, chatId, agent);
		// The agent types: the visitor sees it.
		socket.send({ type: "typing", on: true });
		await page.getByText(/is typing…/).waitFor({ timeout: 10_000 });
		// The agent's reply, with HTML that must stay text, its name and its time.
		await agentSend(
			suite,
			siteId,
			chatId,
			agent,
			"Sorry to hear that! <b>We</b> will send a new one."
		);
		await inLog(
			page,
			"Sorry to hear that! <b>We</b> will send a new one."
		).waitFor({ timeout: 10_000 });
		expect(
			await page
				.locator("#livechat-widget")
				.evaluate((host) => host.shadowRoot!.querySelectorAll(".log b").length)
		).toBe(0);
		expect(
			await page.getByText("Anna Agent", { exact: true }).count()
		).toBeGreaterThan(0);
		expect(
			await page
				.locator("#livechat-widget")
				.evaluate(
					(host) => host.shadowRoot!.querySelectorAll(".log time").length
				)
		).toBeGreaterThanOrEqual(2);
		// The panel is open: the visitor's read receipt reaches the agent.
		await expect
			.poll(
				() =>
					socket.frames.some(
						(f) =>
							f.type === "read" &&
							f.role === "visitor" &&
							Number(f.agentDataOffset) >= 2
					),
				{ timeout: 10_000 }
			)
			.toBe(true);
		// The visitor types: the agent sees it.
		await messageBox(page).pressSequentially("Thanks");
		await expect
			.poll(
				() =>
					socket.frames.some(
						(f) => f.type === "typing" && f.role === "visitor" && f.on === true
					),
				{ timeout: 10_000 }
			)
			.toBe(true);
		await messageBox(page).press("Enter");
		// The agent reads: the visitor's messages say so.
		const visitorOffset = 2;
		await expect
			.poll(
				async () =>
					(await agentRead(suite, siteId, chatId, agent)).messages.filter(
						(m) => m.type === 1
					).length,
				{ timeout: 10_000 }
			)
			.toBe(visitorOffset);
		socket.send({
			type: "read",
			visitorDataOffset: visitorOffset,
			agentDataOffset: 0,
		});
		await expect
			.poll(() => page.getByText("Read", { exact: true }).count(), {
				timeout: 10_000,
			})
			.toBe(2);

		await readmeScreenshot(page, "widget");

		// Closed panel: a reply shows as a badge and flashes the title, until the visitor opens it.
		await page.keyboard.press("Escape");
		await agentSend(suite, siteId, chatId, agent, "Anything else?");
		await expect
			.poll(() => launcher(page).getAttribute("aria-label"), {
				timeout: 10_000,
			})
			.toMatch(/1 unread message/);
		await expect
			.poll(() => page.title(), { timeout: 5_000 })
			.toBe("(1) New message");
		await launcher(page).click();
		await expect
			.poll(() => launcher(page).getAttribute("aria-label"))
			.toBe("Chat with us");
		await expect.poll(() => page.title()).toBe("Widget test shop");

		// The agent ends the chat: rating, then a new chat.
		await online(suite, siteId, agent); // still online (an HTTP status lasts 60 s) for the next chat
		await call(
			suite,
			"POST",
			`/sites/${siteId}/chats/${chatId}/end`,
			agent.token
		);
		await page
			.getByRole("button", { name: "4 out of 5" })
			.click({ timeout: 10_000 });
		await page.getByText("Thank you for your feedback!").first().waitFor();
		await page.getByRole("button", { name: "Start a new chat" }).click();
		await page.getByRole("button", { name: "Start chatting" }).click();
		await messageBox(page).waitFor();
		socket.close();
	});
});
