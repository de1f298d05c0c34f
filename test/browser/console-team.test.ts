/**
 * The agent console (SPEC §9) with colleagues, on a manual-routing site of its own: accepting from the
 * queue, a transfer between two consoles, private messages, and a supervisor who monitors, then joins.
 */
import { describe, expect, it } from "vitest";
import {
	annAndBen,
	ApiVisitor,
	consoleOf,
	siteWithAgents,
} from "./console-helpers.ts";
import { browserSuite } from "./harness.ts";

const suite = browserSuite({ port: 18931 });

describe("the agent console with colleagues", () => {
	it("shows waiting visitors with their waiting time and takes one from the queue (manual routing)", async () => {
		const { siteId, agents } = await siteWithAgents(suite, [{ name: "Ann" }]);
		const ann = await consoleOf(suite, "ann", siteId, agents.Ann!.email);
		const visitor = await ApiVisitor.start(suite.url, siteId, "Quentin");
		await visitor.send("Anyone there?");
		const row = ann.getByRole("row", { name: /Quentin/ });
		await row.waitFor({ timeout: 15_000 });
		await expect
			.poll(() => row.locator(".waiting").innerText())
			.toMatch(/^\d+ s$/);
		expect(
			await ann
				.getByRole("tab", { name: /Queue/ })
				.locator(".badge")
				.innerText()
		).toBe("1");
		await row.getByRole("button", { name: "Accept chat with Quentin" }).click();
		await ann
			.getByRole("list", { name: "Messages with Quentin" })
			.getByText("Anyone there?")
			.waitFor();
		await ann.getByRole("tab", { name: "Queue" }).click();
		await ann.getByText("No visitor is waiting.").waitFor();
		await ann.getByRole("tab", { name: /Quentin/ }).click();
		const reply = ann.getByRole("combobox", { name: "Reply to Quentin" });
		await reply.fill("Yes, Ann here.");
		await reply.press("Enter");
		await visitor.heard("Yes, Ann here.");
	});

	it("transfers a chat to an online colleague with room, whose console takes it over", async () => {
		const { siteId, ann, ben } = await annAndBen(suite);
		const visitor = await ApiVisitor.start(suite.url, siteId, "Rosa");
		await ann
			.getByRole("button", { name: "Accept chat with Rosa" })
			.click({ timeout: 15_000 });
		await visitor.send("I want to change my order");

		await ann.getByLabel("Transfer to").selectOption({ label: "Ben (3 free)" });
		await ann.getByRole("button", { name: "Transfer", exact: true }).click();
		await ben.getByRole("tab", { name: /Rosa/ }).click({ timeout: 15_000 });
		// Ben sees the whole chat, and Ann no longer has it.
		await ben
			.getByRole("list", { name: "Messages with Rosa" })
			.getByText("I want to change my order")
			.waitFor();
		await expect
			.poll(() => ann.getByRole("tab", { name: /Rosa/ }).count())
			.toBe(0);
		const reply = ben.getByRole("combobox", { name: "Reply to Rosa" });
		await reply.fill("Ben here, I can change it.");
		await reply.press("Enter");
		await visitor.heard("Ben here, I can change it.");
	});

	it("sends private messages between two consoles", async () => {
		const { ann, ben } = await annAndBen(suite);
		await ann.getByRole("tab", { name: "Team" }).click();
		await ann.getByRole("button", { name: "Message Ben" }).click();
		await ann
			.getByLabel("Message to Ben")
			.fill("Can you cover my chats at noon?");
		await ann.getByRole("button", { name: "Send" }).click();
		// Ben's console counts it on the Team tab until he looks.
		await expect
			.poll(
				() =>
					ben
						.getByRole("tab", { name: /Team/ })
						.locator(".badge")
						.textContent(),
				{ timeout: 15_000 }
			)
			.toBe("1");
		await ben.getByRole("tab", { name: /Team/ }).click();
		await ben
			.getByRole("list", { name: "Private messages with Ann" })
			.getByText("Can you cover my chats at noon?")
			.waitFor();
		await ben.getByLabel("Message to Ann").fill("Sure.");
		await ben.getByLabel("Message to Ann").press("Enter");
		await ann
			.getByRole("list", { name: "Private messages with Ben" })
			.getByText("Sure.")
			.waitFor({ timeout: 15_000 });
	});

	it("lets a supervisor monitor a chat unseen, then join it", async () => {
		const { siteId, agents } = await siteWithAgents(suite, [
			{ name: "Ann" },
			{ name: "Sue", role: "supervisor" },
		]);
		const ann = await consoleOf(suite, "ann", siteId, agents.Ann!.email);
		const visitor = await ApiVisitor.start(suite.url, siteId, "Tomas");
		await ann
			.getByRole("button", { name: "Accept chat with Tomas" })
			.click({ timeout: 15_000 });
		await visitor.send("The stove does not light");

		const sue = await consoleOf(suite, "sue", siteId, agents.Sue!.email);
		await sue.getByRole("tab", { name: "Supervise" }).click();
		await sue
			.getByRole("button", { name: "Monitor chat with Tomas" })
			.click({ timeout: 15_000 });
		const watched = sue.getByRole("list", { name: "Messages with Tomas" });
		await watched.getByText("The stove does not light").waitFor();
		expect(
			await sue.getByRole("combobox", { name: "Reply to Tomas" }).count()
		).toBe(0);
		// Live while monitoring: Ann's answer shows up in Sue's view too.
		const annReply = ann.getByRole("combobox", { name: "Reply to Tomas" });
		await annReply.fill("Is the gas valve open?");
		await annReply.press("Enter");
		await watched
			.getByText("Is the gas valve open?")
			.waitFor({ timeout: 15_000 });
		// Monitoring told the visitor nothing: no system message about Sue.
		expect(
			(await visitor.messages()).filter(
				(m) => m.type === 4 && m.content.includes("Sue")
			)
		).toEqual([]);

		await sue.getByRole("button", { name: "Join chat" }).click();
		const reply = sue.getByRole("combobox", { name: "Reply to Tomas" });
		await reply.waitFor({ timeout: 15_000 });
		await reply.fill("Supervisor here: try the spare cartridge.");
		await reply.press("Enter");
		await visitor.heard("Supervisor here: try the spare cartridge.");
	});
});
