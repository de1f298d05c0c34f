/**
 * `/chat?site=<siteId>` (SPEC §4: the chat window, also used by direct links): the window full page,
 * open from the start, with no launcher; a chat started there reaches the agent.
 */
import { describe, expect, it } from "vitest";
import { browserSuite } from "./harness.ts";
import {
	agentContents,
	assigned,
	call,
	inLog,
	launcher,
	messageBox,
	send,
} from "./widget-helpers.ts";
import type { TestAgent } from "./widget-helpers.ts";

const suite = browserSuite({ port: 18962 });

describe("the /chat page", () => {
	it("shows the chat window full page without a launcher, and a chat there reaches the agent", async () => {
		const login = await call<{
			token: string;
			agent: { id: string; name: string };
		}>(suite, "POST", "/sites/demo/agent-sessions", undefined, {
			email: "agent@demo.local",
			password: "demo-password",
		});
		const agent: TestAgent = {
			token: login.token,
			id: login.agent.id,
			name: login.agent.name,
		};
		await call(suite, "PUT", "/sites/demo/agents/me/status", agent.token, {
			status: "online",
		});

		const page = await suite.page(
			await suite.context({ viewport: { width: 1024, height: 700 } }),
			"visitor"
		);
		await page.goto(`${suite.url}/chat?site=demo`);
		const dialog = page.getByRole("dialog");
		await dialog.waitFor({ timeout: 10_000 });
		expect(await launcher(page).isVisible()).toBe(false);
		expect(
			await page.getByRole("button", { name: "Close chat" }).isVisible()
		).toBe(false);
		const box = (await dialog.boundingBox())!;
		expect(box).toMatchObject({ x: 0, y: 0, width: 1024, height: 700 });
		// Escape does not leave an empty page.
		await page.keyboard.press("Escape");
		expect(await dialog.isVisible()).toBe(true);

		await page
			.getByRole("textbox", { name: /your name/i })
			.fill("Direct Link Visitor");
		await page.getByRole("button", { name: "Start chatting" }).click();
		await messageBox(page).waitFor({ timeout: 15_000 });
		await send(page, "Hello from the chat page");
		await inLog(page, "Hello from the chat page").waitFor();
		const chatId = await page.evaluate(() => {
			const open = indexedDB.open("livechat", 1);
			return new Promise<string>((resolve) => {
				open.onsuccess = () => {
					const get = open.result
						.transaction("values")
						.objectStore("values")
						.get("current:demo");
					get.onsuccess = () => resolve(get.result as string);
				};
			});
		});
		await assigned(suite, "demo", chatId, agent);
		await expect
			.poll(() => agentContents(suite, "demo", chatId, agent), {
				timeout: 10_000,
			})
			.toContain("Hello from the chat page");
	});
});
