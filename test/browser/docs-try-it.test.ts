/**
 * The API reference at /docs (SPEC §4) as a developer uses it: "Try it out" on chat start, sent as
 * Swagger UI fills it from the document's examples, starts a chat on the demo site (SPEC §12).
 */
import { describe, expect, it } from "vitest";
import { browserSuite } from "./harness.ts";

const suite = browserSuite({ port: 18983 });

describe("the API reference at /docs", () => {
	it("starts a chat with Try it out, as the page fills it in", async () => {
		const page = await suite.page(await suite.context(), "developer");
		await page.goto(`${suite.url}/docs`);
		const operation = page.locator("#operations-Chat-postSitesSiteIdChats");
		await operation.locator(".opblock-summary").click({ timeout: 15_000 });
		await operation.getByRole("button", { name: "Try it out" }).click();
		// The site as a developer types it (the document's example for siteId is the same); the body as filled in.
		await operation.locator('tr[data-param-name="siteId"] input').fill("demo");
		await operation.getByRole("button", { name: "Execute" }).click();
		const status = operation.locator(
			".live-responses-table .response .response-col_status"
		);
		await status.waitFor({ timeout: 15_000 });
		expect(await status.innerText()).toBe("201");
	});
});
