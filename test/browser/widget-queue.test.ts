/**
 * The waiting position in the widget (SPEC §9): on a manual-routing site with an agent online, two
 * visitors start chats; the second widget says it is number 2 in the queue, and 1 once the first
 * chat is accepted (over the API, as an agent's console would).
 */
import { describe, it } from "vitest";
import { browserSuite } from "./harness.ts";
import {
	call,
	online,
	shopPage,
	startChat,
	widgetSite,
} from "./widget-helpers.ts";

const suite = browserSuite({ port: 18971 });

describe("the widget's waiting position", () => {
	it("shows the second visitor as number 2, then 1 when the first chat is accepted", async () => {
		const { siteId, agent } = await widgetSite(
			suite,
			{},
			{ routing: { mode: "manual", sticky: true } }
		);
		await online(suite, siteId, agent);

		const firstPage = await shopPage(
			suite,
			await suite.context(),
			siteId,
			"first-visitor"
		);
		const first = await startChat(firstPage, "Fiona First");
		await firstPage
			.getByText("you are number 1 in the queue", { exact: false })
			.first()
			.waitFor({ timeout: 15_000 });

		const secondPage = await shopPage(
			suite,
			await suite.context(),
			siteId,
			"second-visitor"
		);
		await startChat(secondPage, "Sam Second");
		await secondPage
			.getByText("you are number 2 in the queue", { exact: false })
			.first()
			.waitFor({ timeout: 15_000 });

		await call(
			suite,
			"POST",
			`/sites/${siteId}/chats/${first}/accept`,
			agent.token
		);
		await secondPage
			.getByText("you are number 1 in the queue", { exact: false })
			.first()
			.waitFor({ timeout: 15_000 });
		// The first visitor is no longer waiting.
		await firstPage
			.getByText(/in the queue/)
			.waitFor({ state: "hidden", timeout: 15_000 });
	});
});
