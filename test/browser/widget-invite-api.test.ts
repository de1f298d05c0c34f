/**
 * The loader's page socket and the page's API (SPEC §7, §9): an agent invites a browsing visitor over
 * the API and the visitor opens the chat from the invitation; `window.LiveChat` opens and closes the
 * panel, identify() reaches the chat start, conversion() is recorded.
 */
import { describe, expect, it } from "vitest";
import { browserSuite } from "./harness.ts";
import {
	agentContents,
	assigned,
	call,
	currentChatId,
	inLog,
	launcher,
	messageBox,
	openShop,
	send,
} from "./widget-helpers.ts";
import type { TestAgent } from "./widget-helpers.ts";
import type { Page } from "playwright-core";

const suite = browserSuite({ port: 18961 });

declare global {
	interface Window {
		LiveChat: {
			open(): Promise<void>;
			close(): void;
			identify(visitor: { name?: string; email?: string }): void;
			conversion(name: string, value?: number): Promise<boolean>;
		};
	}
}

const panelOpen = (page: Page) => page.getByRole("dialog").isVisible();

/** The visitor on the shop's page, as the agent's visitors list shows it once its page socket is up. */
async function trackedVisitor(
	siteId: string,
	agent: TestAgent
): Promise<string> {
	let visitorId = "";
	await expect
		.poll(
			async () => {
				const { visitors } = await call<{
					visitors: { visitorId: string; page?: string }[];
				}>(suite, "GET", `/sites/${siteId}/visitors`, agent.token);
				visitorId =
					visitors.find((v) => v.page?.includes(`/shop/${siteId}`))
						?.visitorId ?? "";
				return visitorId;
			},
			{ timeout: 15_000 }
		)
		.not.toBe("");
	return visitorId;
}

describe("invitations and window.LiveChat", () => {
	it("shows an agent's invitation, and the visitor opens the chat from it", async () => {
		const { siteId, agent, page } = await openShop(suite, "visitor");
		const visitorId = await trackedVisitor(siteId, agent);
		// Delivered once the page socket has said hello (the list may show the page view a moment before).
		await expect
			.poll(
				async () =>
					(
						await call<{ delivered: number }>(
							suite,
							"POST",
							`/sites/${siteId}/visitors/${visitorId}/invite`,
							agent.token,
							{ message: "Need help choosing a tent?" }
						)
					).delivered,
				{ timeout: 15_000 }
			)
			.toBeGreaterThan(0);

		const invitation = page
			.getByRole("status")
			.filter({ hasText: "Need help choosing a tent?" });
		await invitation.waitFor({ timeout: 10_000 });
		expect(await invitation.innerText()).toContain("Anna Agent:");
		expect(await panelOpen(page)).toBe(false);
		await invitation.getByRole("button", { name: "Reply" }).click();
		await expect.poll(() => panelOpen(page)).toBe(true);
		expect(await invitation.isVisible()).toBe(false);
		await page
			.getByRole("textbox", { name: /your name/i })
			.fill("Vera Visitor");
		await page.getByRole("button", { name: "Start chatting" }).click();
		await messageBox(page).waitFor({ timeout: 15_000 });
		await inLog(page, "Need help choosing a tent?").waitFor();
		const chatId = await currentChatId(page);
		await send(page, "Yes, a two-person one");
		await assigned(suite, siteId, chatId, agent);
		await expect
			.poll(() => agentContents(suite, siteId, chatId, agent), {
				timeout: 10_000,
			})
			.toContain("Yes, a two-person one");
	});

	it("opens and closes from the page, takes identify() into the chat start, and records a conversion", async () => {
		const { siteId, agent, page } = await openShop(suite, "visitor");
		await page.waitForFunction(() => typeof window.LiveChat === "object");

		await page.evaluate(() => window.LiveChat.open());
		await expect.poll(() => panelOpen(page), { timeout: 10_000 }).toBe(true);
		expect(await launcher(page).getAttribute("aria-expanded")).toBe("true");
		const name = page.getByRole("textbox", { name: /your name/i });
		await name.waitFor();
		// Signed in on the page while the form is on screen: the form takes the page's name and email.
		await page.evaluate(() =>
			window.LiveChat.identify({
				name: "Ida Identified",
				email: "ida@example.com",
			})
		);
		await expect.poll(() => name.inputValue()).toBe("Ida Identified");
		expect(
			await page.getByRole("textbox", { name: /email/i }).inputValue()
		).toBe("ida@example.com");
		await page.evaluate(() => window.LiveChat.close());
		await expect.poll(() => panelOpen(page)).toBe(false);
		expect(await launcher(page).getAttribute("aria-expanded")).toBe("false");

		await page.evaluate(() => window.LiveChat.open());
		await expect.poll(() => panelOpen(page)).toBe(true);
		await page.getByRole("button", { name: "Start chatting" }).click();
		await messageBox(page).waitFor({ timeout: 15_000 });
		const chatId = await currentChatId(page);
		await assigned(suite, siteId, chatId, agent);
		const { chats } = await call<{
			chats: { chatId: string; visitorName?: string }[];
		}>(suite, "GET", `/sites/${siteId}/agents/me/chats`, agent.token);
		expect(chats.find((c) => c.chatId === chatId)?.visitorName).toBe(
			"Ida Identified"
		);

		const [response, recorded] = await Promise.all([
			page.waitForResponse(
				(r) =>
					r.url() === `${suite.url}/v1/sites/${siteId}/conversions` &&
					r.request().method() === "POST"
			),
			page.evaluate(() => window.LiveChat.conversion("newsletter-signup", 5)),
		]);
		expect(response.status()).toBe(202);
		expect(response.request().postDataJSON()).toMatchObject({
			name: "newsletter-signup",
			value: 5,
		});
		expect(recorded).toBe(true);
	});
});
