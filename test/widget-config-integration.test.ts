/** The widget's slice of the site config (SPEC §4, §9): public, and nothing else of the config. */
import { describe, expect, it } from "vitest";
import { api, createSite } from "./helpers.ts";

describe("widget config", () => {
	it("answers the widget part of the site config without a token, defaults filled in, no secrets", async () => {
		const widget = {
			title: "Acme help",
			greeting: "Hi! Ask us anything.",
			color: "#aa3300",
			prechat: {
				fields: [{ name: "order", label: "Order number", required: true }],
			},
			departments: ["Sales", "Support"],
		};
		const siteId = await createSite({
			widget,
			integrations: {
				webhook: {
					enabled: true,
					url: "https://example.com/hook",
					secret: "0123456789abcdef0123",
				},
			},
		});
		const res = await api(`/sites/${siteId}/widget-config`);
		expect(res.status).toBe(200);
		const body = await res.json();
		// What the site set, and the defaults of what it did not.
		expect(body).toEqual({ ...widget, offlineForm: true, rating: true });
		expect(JSON.stringify(body)).not.toContain("0123456789abcdef0123");
	});

	it("gives defaults to a site that configured no widget, and 404 for an unknown site", async () => {
		const siteId = await createSite();
		expect(await (await api(`/sites/${siteId}/widget-config`)).json()).toEqual({
			prechat: { fields: [] },
			offlineForm: true,
			rating: true,
		});
		expect((await api(`/sites/no-such-site/widget-config`)).status).toBe(404);
	});

	it("refuses a widget config with a bad colour or an unknown field", async () => {
		for (const widget of [{ color: "red" }, { theme: "dark" }]) {
			await expect(createSite({ widget } as never)).rejects.toThrow(/400/);
		}
	});
});
