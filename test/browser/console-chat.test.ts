/**
 * The agent console (SPEC §9) as a demo agent uses it: sign in, go online, get a routed chat with a
 * sound and a notification, answer it with typing and read receipts both ways; a canned message by
 * /shortcut; end and wrap-up with the site's categories; history search. The visitor is played over the API.
 */
import { describe, expect, it } from "vitest";
import {
	alertsOf,
	ApiVisitor,
	recordAlerts,
	signIn,
} from "./console-helpers.ts";
import { browserSuite, readmeScreenshot } from "./harness.ts";

const suite = browserSuite({ port: 18930 });
const DEMO_PASSWORD = "demo-password";

describe("the agent console", () => {
	it("signs in, goes online, is told of a routed chat by sound and notification, and answers it with typing and read receipts", async () => {
		const context = await suite.context({
			viewport: { width: 1200, height: 760 },
		});
		await recordAlerts(context);
		const page = await suite.page(context, "agent");
		await signIn(suite, page, "demo", "agent@demo.local", DEMO_PASSWORD);
		await expect
			.poll(() => page.getByLabel("Status").inputValue())
			.toBe("online");

		const visitor = await ApiVisitor.start(suite.url, "demo", "Vera");
		const tab = page.getByRole("tab", { name: /Vera/ });
		await tab.waitFor({ timeout: 15_000 });
		await expect
			.poll(() => alertsOf(page))
			.toContain("notification: New chat: Vera is waiting for your answer");
		expect(await alertsOf(page)).toContain("sound");

		const socket = await visitor.socket();
		await visitor.send("Hello, my tent pole snapped");
		const log = page.getByRole("list", { name: "Messages with Vera" });
		await log.getByText("Hello, my tent pole snapped").waitFor();
		// The chat is in view: the visitor gets a read receipt.
		await socket.next(
			(f) =>
				f.type === "read" &&
				f.role === "agent" &&
				Number(f.visitorDataOffset) >= 1
		);

		socket.send({ type: "typing", on: true });
		await page.getByText("Vera is typing…").first().waitFor();

		const reply = page.getByRole("combobox", { name: "Reply to Vera" });
		await reply.fill("Sorry to hear that! Which tent is it?");
		await reply.press("Enter");
		const answered = await visitor.heard(
			"Sorry to hear that! Which tent is it?"
		);
		expect(await log.locator(".message.me .receipt").innerText()).toContain(
			"Sent"
		);
		socket.send({
			type: "read",
			visitorDataOffset: 1,
			agentDataOffset: answered.dataOffset,
		});
		await log.locator(".message.me .receipt.read").waitFor();

		await readmeScreenshot(page, "console");
		socket.close();
	});

	it("sends a canned message by /shortcut, ends the chat with a wrap-up, and finds it again in history", async () => {
		const page = await suite.page(
			await suite.context({ viewport: { width: 1200, height: 760 } }),
			"agent"
		);
		await signIn(suite, page, "demo", "agent@demo.local", DEMO_PASSWORD);
		const visitor = await ApiVisitor.start(suite.url, "demo", "Walter");
		await page.getByRole("tab", { name: /Walter/ }).click({ timeout: 15_000 });
		await visitor.send("Where is my parcel? It is the blue kayak.");

		const reply = page.getByRole("combobox", { name: "Reply to Walter" });
		await reply.pressSequentially("/ord");
		await page.getByRole("option", { name: /\/order/ }).waitFor();
		await reply.press("Enter");
		expect(await reply.inputValue()).toMatch(
			/^Could you give me your order number\?/
		);
		await reply.press("Enter");
		await visitor.heard(
			"Could you give me your order number? It starts with a # and is in your confirmation email."
		);

		await page.getByRole("button", { name: "End chat" }).click();
		const wrapup = page.getByRole("form", { name: "Wrap-up" });
		await wrapup.getByLabel("Category").selectOption("Shipping");
		await wrapup.getByLabel("Comment").fill("Kayak delayed at the depot");
		await wrapup.getByRole("button", { name: "Save wrap-up" }).click();
		await page.getByText("Wrap-up saved.").first().waitFor();
		await page.getByRole("button", { name: "Close chat" }).click();

		await page.getByRole("tab", { name: "History" }).click();
		await page.getByLabel("Search history").fill("blue kayak");
		await page.getByRole("button", { name: "Search" }).click();
		// Persistence runs on the queues: search again until the chat is there.
		await expect
			.poll(
				async () => {
					await page.getByRole("button", { name: "Search" }).click();
					return page
						.getByRole("list", { name: "Past chats" })
						.getByRole("button", { name: /Walter/ })
						.count();
				},
				{ timeout: 20_000, interval: 1000 }
			)
			.toBe(1);
		const transcript = page.getByRole("article", {
			name: "Transcript with Walter",
		});
		// The wrap-up reaches history on its own queue: open the chat again until it is there.
		await expect
			.poll(
				async () => {
					await page
						.getByRole("list", { name: "Past chats" })
						.getByRole("button", { name: /Walter/ })
						.click();
					await transcript
						.getByText("Where is my parcel? It is the blue kayak.")
						.waitFor();
					return transcript
						.getByText("Wrap-up: Shipping — Kayak delayed at the depot")
						.count();
				},
				{ timeout: 20_000, interval: 1000 }
			)
			.toBe(1);

		await page.getByLabel("Search history").fill("nobody ever said this");
		await page.getByRole("button", { name: "Search" }).click();
		await page.getByText("No chats found.").waitFor();
	});
});
