import { describe, expect, it } from "vitest";
import { browserSuite } from "./harness.ts";

const suite = browserSuite({ port: 18900 });

describe("the demo page in a real browser", () => {
	it("serves the demo page with the widget's launcher", async () => {
		const page = await suite.page(await suite.context(), "visitor");
		await page.goto(suite.url);
		await expect
			.poll(async () =>
				page.evaluate(
					() => document.querySelectorAll("script[src*='livechat.js']").length
				)
			)
			.toBeGreaterThan(0);
		const launcher = page.getByRole("button", { name: /chat/i }).first();
		await launcher.waitFor({ timeout: 15_000 });
		expect(await launcher.isVisible()).toBe(true);
	});
});
