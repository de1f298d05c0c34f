/**
 * More of the agent console (SPEC §9): preferences that last across a reload and silence new chats,
 * inviting a colleague into a chat from one console and joining from the other, the agent's typing
 * as the visitor sees it, and the console on a phone. The visitor is played over the API.
 */
import { describe, expect, it } from "vitest";
import {
	alertsOf,
	annAndBen,
	ApiVisitor,
	consoleOf,
	recordAlerts,
	signIn,
	siteWithAgents,
	viewport,
} from "./console-helpers.ts";
import { browserSuite } from "./harness.ts";

const suite = browserSuite({ port: 18970 });

describe("more of the agent console", () => {
	it("keeps sound and notifications off across a reload, and a routed chat then makes neither", async () => {
		const { siteId, agents } = await siteWithAgents(suite, [{ name: "Ann" }], {
			routing: { mode: "auto", sticky: true },
		});
		const context = await suite.context({ viewport });
		await recordAlerts(context);
		const page = await suite.page(context, "ann");
		await signIn(suite, page, siteId, agents.Ann!.email);

		await page.getByRole("tab", { name: "Preferences" }).click();
		const sound = page.getByRole("checkbox", { name: /Play a sound/ });
		const notifications = page.getByRole("checkbox", {
			name: /Show browser notifications/,
		});
		expect([await sound.isChecked(), await notifications.isChecked()]).toEqual([
			true,
			true,
		]);
		await sound.uncheck();
		await notifications.uncheck();
		await page.getByRole("button", { name: "Save preferences" }).click();
		await page.getByText("Preferences saved.").waitFor();

		await page.reload();
		await page
			.getByText("Connected", { exact: true })
			.waitFor({ timeout: 15_000 });
		await page.getByRole("tab", { name: "Preferences" }).click();
		expect([await sound.isChecked(), await notifications.isChecked()]).toEqual([
			false,
			false,
		]);

		await expect
			.poll(() => page.getByLabel("Status").inputValue())
			.toBe("online");
		await ApiVisitor.start(suite.url, siteId, "Nadia");
		await page.getByRole("tab", { name: /Nadia/ }).waitFor({ timeout: 15_000 });
		// The console announces the new chat right after it would have chimed or notified, had it been allowed to.
		await page
			.getByRole("status")
			.getByText("New chat with Nadia.")
			.waitFor({ state: "attached", timeout: 15_000 });
		expect(await alertsOf(page)).toEqual([]);
	});

	it("invites a colleague into a chat, who joins from the invitation, and the visitor is told", async () => {
		const { siteId, ann, ben } = await annAndBen(suite);
		const visitor = await ApiVisitor.start(suite.url, siteId, "Oskar");
		await ann
			.getByRole("button", { name: "Accept chat with Oskar" })
			.click({ timeout: 15_000 });
		await visitor.send("My stove leaks");

		await ann.getByLabel("Invite").selectOption({ label: "Ben" });
		await ann.getByText("Ben is invited to this chat.").first().waitFor();
		const invitation = ben.getByRole("region", { name: "Invitation" });
		await invitation
			.getByText("Ann invites you to join a chat.")
			.waitFor({ timeout: 15_000 });
		await invitation.getByRole("button", { name: "Join" }).click();
		await expect.poll(() => invitation.count()).toBe(0);

		await expect
			.poll(
				async () =>
					(await visitor.messages()).some(
						(m) => m.type === 4 && m.content === "Ben joined the chat"
					),
				{ timeout: 15_000 }
			)
			.toBe(true);
	});

	it("shows the agent's typing to the visitor", async () => {
		const { siteId, agents } = await siteWithAgents(suite, [{ name: "Ann" }]);
		const ann = await consoleOf(suite, "ann", siteId, agents.Ann!.email);
		const visitor = await ApiVisitor.start(suite.url, siteId, "Petra");
		await ann
			.getByRole("button", { name: "Accept chat with Petra" })
			.click({ timeout: 15_000 });
		const socket = await visitor.socket();
		try {
			const reply = ann.getByRole("combobox", { name: "Reply to Petra" });
			await reply.pressSequentially("Let me check", { delay: 20 });
			await socket.next(
				(f) => f.type === "typing" && f.role === "agent" && f.on === true
			);
		} finally {
			socket.close();
		}
	});

	it("is usable on a phone: sign in, the queue, a chat tab and the message box", async () => {
		const { siteId, agents } = await siteWithAgents(suite, [{ name: "Ann" }]);
		const context = await suite.context({
			viewport: { width: 390, height: 844 },
			isMobile: true,
			hasTouch: true,
			deviceScaleFactor: 2,
		});
		const page = await suite.page(context, "ann-phone");
		await signIn(suite, page, siteId, agents.Ann!.email);
		const visitor = await ApiVisitor.start(suite.url, siteId, "Quinn");
		await visitor.send("Hello from the phone test");

		await page.getByRole("tab", { name: /Queue/ }).tap();
		const accept = page.getByRole("button", { name: "Accept chat with Quinn" });
		await accept.waitFor({ timeout: 15_000 });
		expect(await accept.isVisible()).toBe(true);
		await accept.tap();
		await page.getByRole("tab", { name: /Quinn/ }).tap();
		await page
			.getByRole("list", { name: "Messages with Quinn" })
			.getByText("Hello from the phone test")
			.waitFor();
		const reply = page.getByRole("combobox", { name: "Reply to Quinn" });
		await reply.scrollIntoViewIfNeeded();
		expect(await reply.isVisible()).toBe(true);
		const box = (await reply.boundingBox())!;
		// Inside the phone's width, and not so narrow that it cannot be typed in.
		expect(box.x).toBeGreaterThanOrEqual(0);
		expect(box.x + box.width).toBeLessThanOrEqual(390 + 1);
		expect(box.width).toBeGreaterThan(200);
		await reply.fill("Answered on a phone.");
		await reply.press("Enter");
		await visitor.heard("Answered on a phone.");
		// No sideways scrolling of the whole page.
		expect(
			await page.evaluate(() => document.documentElement.scrollWidth)
		).toBeLessThanOrEqual(390);
	});
});
