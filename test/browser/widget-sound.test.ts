/** SPEC §9: an agent's reply to a closed widget chimes, once per new unread message. */
import { describe, expect, it } from "vitest";
import { browserSuite } from "./harness.ts";
import {
	agentSend,
	assigned,
	launcher,
	online,
	send,
	shopPage,
	startChat,
	widgetSite,
} from "./widget-helpers.ts";

const suite = browserSuite({ port: 18972 });

describe("the widget's sound", () => {
	it("chimes when an agent's reply arrives while the panel is closed, once per new message, and not for the visitor's own", async () => {
		const { siteId, agent } = await widgetSite(suite);
		await online(suite, siteId, agent);
		const context = await suite.context();
		// Count the tones the page plays: a stand-in AudioContext that records each start.
		await context.addInitScript(() => {
			const w = window as unknown as { chimes: number; AudioContext: unknown };
			w.chimes = 0;
			const node = () => ({
				connect: (next: unknown) => next,
				frequency: {},
				gain: {},
				start: () => void w.chimes++,
				stop: () => undefined,
			});
			w.AudioContext = class {
				currentTime = 0;
				destination = {};
				createOscillator = node;
				createGain = node;
			};
		});
		const page = await shopPage(suite, context, siteId, "visitor");
		const chatId = await startChat(page);
		await assigned(suite, siteId, chatId, agent);
		await send(page, "Is anyone there?");
		const chimes = () =>
			page.evaluate(() => (window as unknown as { chimes: number }).chimes);
		expect(await chimes()).toBe(0);
		await page.keyboard.press("Escape");
		await agentSend(suite, siteId, chatId, agent, "Yes, I am here.");
		await expect
			.poll(() => launcher(page).getAttribute("aria-label"), {
				timeout: 10_000,
			})
			.toMatch(/1 unread message/);
		expect(await chimes()).toBe(1);
		await agentSend(suite, siteId, chatId, agent, "How can I help?");
		await expect
			.poll(() => launcher(page).getAttribute("aria-label"), {
				timeout: 10_000,
			})
			.toMatch(/2 unread messages/);
		expect(await chimes()).toBe(2);
		// Read: nothing more until something new arrives.
		await launcher(page).click();
		await expect
			.poll(() => launcher(page).getAttribute("aria-label"))
			.toBe("Chat with us");
		expect(await chimes()).toBe(2);
	});
});
