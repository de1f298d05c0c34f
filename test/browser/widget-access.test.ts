/**
 * The widget on a phone and with the keyboard alone (SPEC §9, §11): full screen with
 * 16 px inputs; focus into the panel and back to the launcher, Escape, aria-expanded, errors
 * announced; and the sizes of what a page loads (loader ≤ 10 KB, window ≤ 35 KB gzipped).
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { browserSuite } from "./harness.ts";
import {
	inLog,
	launcher,
	messageBox,
	online,
	shopPage,
	widgetSite,
} from "./widget-helpers.ts";

const suite = browserSuite({ port: 18913 });

/** The element that has focus, inside the widget's shadow root when it is there. */
const focused = (page: import("playwright-core").Page) =>
	page.evaluate(() => {
		const inner =
			document.activeElement?.shadowRoot?.activeElement ??
			document.activeElement;
		return inner
			? `${inner.tagName.toLowerCase()}${inner.getAttribute("name") ? `[name=${inner.getAttribute("name")}]` : ""}${inner.className ? `.${String(inner.className).split(" ")[0]}` : ""}`
			: "";
	});

describe("the widget for every visitor", () => {
	it("fills a phone's screen, with inputs of at least 16 px", async () => {
		const { siteId, agent } = await widgetSite(suite);
		await online(suite, siteId, agent);
		const context = await suite.context({
			viewport: { width: 390, height: 844 },
			isMobile: true,
			hasTouch: true,
			deviceScaleFactor: 2,
		});
		const page = await shopPage(suite, context, siteId, "phone");
		await launcher(page).tap();
		const name = page.getByRole("textbox", { name: /your name/i });
		await name.waitFor();
		const panel = await page.getByRole("dialog").boundingBox();
		expect(panel).toEqual({ x: 0, y: 0, width: 390, height: 844 });
		const fontSize = (box: typeof name) =>
			box.evaluate((el) => parseFloat(getComputedStyle(el).fontSize));
		expect(await fontSize(name)).toBeGreaterThanOrEqual(16);
		await name.fill("Pia Phone");
		await page.getByRole("button", { name: "Start chatting" }).tap();
		await messageBox(page).waitFor();
		expect(await fontSize(messageBox(page))).toBeGreaterThanOrEqual(16);
		await page.getByRole("button", { name: "Close chat" }).tap();
		expect(await page.getByRole("dialog").isVisible()).toBe(false);
	});

	it("works with the keyboard alone: focus in and out, Escape, aria-expanded, errors announced", async () => {
		const { siteId, agent } = await widgetSite(suite, {
			prechat: {
				fields: [{ name: "order", label: "Order number", required: true }],
			},
		});
		await online(suite, siteId, agent);
		const page = await shopPage(
			suite,
			await suite.context(),
			siteId,
			"keyboard"
		);
		await launcher(page).waitFor();
		// Tab from the page's start reaches the launcher (the only focusable thing on the shop page).
		await page.keyboard.press("Tab");
		expect(await focused(page)).toBe("button.launcher");
		expect(await launcher(page).getAttribute("aria-expanded")).toBe("false");
		await page.keyboard.press("Enter");
		await expect.poll(() => focused(page)).toBe("input[name=name]");
		expect(await launcher(page).getAttribute("aria-expanded")).toBe("true");
		await page.keyboard.press("Escape");
		await expect.poll(() => focused(page)).toBe("button.launcher");
		expect(await launcher(page).getAttribute("aria-expanded")).toBe("false");

		await page.keyboard.press("Enter");
		await expect.poll(() => focused(page)).toBe("input[name=name]");
		await page.keyboard.type("Kim Keys");
		await page.keyboard.press("Enter"); // the required order number is empty: said, and focused
		await expect
			.poll(() => page.getByRole("alert").textContent())
			.toBe("Order number is needed.");
		expect(await focused(page)).toBe("input[name=prechat:order]");
		await page.keyboard.type("A-1001");
		await page.keyboard.press("Enter");
		await expect
			.poll(() => focused(page), { timeout: 15_000 })
			.toBe("textarea[name=content]");
		await page.keyboard.type("Typed, not clicked");
		await page.keyboard.press("Enter");
		await inLog(page, "Typed, not clicked").waitFor();
		await expect
			.poll(() => page.getByText("Sent", { exact: true }).count(), {
				timeout: 10_000,
			})
			.toBe(1);
		await page.keyboard.press("Escape");
		await expect.poll(() => focused(page)).toBe("button.launcher");
	});

	it("keeps the loader within 10 KB and the chat window within 35 KB gzipped, with no public source maps", () => {
		const size = (file: string) =>
			gzipSync(
				readFileSync(
					fileURLToPath(new URL(`../../public/${file}`, import.meta.url))
				)
			).length;
		expect(size("livechat.js")).toBeLessThanOrEqual(10 * 1024);
		expect(size("livechat-window.js")).toBeLessThanOrEqual(35 * 1024);
		expect(
			readFileSync(
				fileURLToPath(new URL("../../public/livechat.js", import.meta.url)),
				"utf8"
			)
		).not.toContain("sourceMappingURL");
	});
});
