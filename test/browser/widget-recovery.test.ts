/**
 * No dead ends in the widget (SPEC §9): the offline form when no agent is online, an
 * ended chat (also after a reload) followed by a new one, and a stored token the server no longer
 * takes, which moves the visitor and its unsent message into a fresh chat.
 */
import { describe, expect, it } from "vitest";
import { browserSuite } from "./harness.ts";
import {
	agentContents,
	assigned,
	call,
	currentChatId,
	inLog,
	launcher,
	messageBox,
	online,
	openShop,
	send,
	shopPage,
	startChat,
	widgetSite,
} from "./widget-helpers.ts";

const suite = browserSuite({ port: 18912 });

describe("the widget never leaves the visitor stuck", () => {
	it("offers the offline form when no agent is online, and sends it", async () => {
		const { siteId } = await widgetSite(suite);
		const page = await shopPage(
			suite,
			await suite.context(),
			siteId,
			"visitor"
		);
		await launcher(page).click();
		await page.getByRole("textbox", { name: "Email" }).fill("not-an-email");
		await page
			.getByRole("textbox", { name: "Message", exact: true })
			.fill("Do you ship to Norway?");
		await page.getByRole("button", { name: "Send message" }).click();
		await expect
			.poll(() => page.getByRole("alert").textContent())
			.toMatch(/email/i);
		await page.getByRole("textbox", { name: "Email" }).fill("olga@example.com");
		await page.getByRole("button", { name: "Send message" }).click();
		await page
			.getByText(/Your message has been sent/)
			.first()
			.waitFor({ timeout: 10_000 });
	});

	it("after an ended chat, also after a reload, offers a rating and a new chat that works", async () => {
		const { siteId, agent, page } = await openShop(suite, "visitor");
		const first = await startChat(page);
		await send(page, "Question one");
		await assigned(suite, siteId, first, agent);
		await call(
			suite,
			"POST",
			`/sites/${siteId}/chats/${first}/end`,
			agent.token
		);
		await inLog(page, "The chat has ended").waitFor({ timeout: 10_000 });
		await page.reload();
		await launcher(page).click();
		await page
			.getByRole("button", { name: "Start a new chat" })
			.waitFor({ timeout: 10_000 });
		expect(await messageBox(page).isVisible()).toBe(false);
		await online(suite, siteId, agent);
		await page.getByRole("button", { name: "Start a new chat" }).click();
		await page.getByRole("button", { name: "Start chatting" }).click();
		await messageBox(page).waitFor();
		await send(page, "Question two");
		await expect
			.poll(
				async () =>
					(await inLog(page, "Question two").isVisible()) &&
					(await page.getByText("Sending…").count()) === 0,
				{ timeout: 15_000 }
			)
			.toBe(true);
		expect(await currentChatId(page)).not.toBe(first);
		expect(await inLog(page, "Question one").count()).toBe(0);
	});

	it("moves the visitor into a fresh chat when its stored token is refused, and the chat goes on there", async () => {
		const { siteId, agent, page } = await openShop(suite, "visitor");
		const first = await startChat(page);
		await send(page, "Before the token broke");
		await assigned(suite, siteId, first, agent);
		// The stored token is spoilt (as an expired one would be refused), then the shop is opened again. The
		// spoiling happens on a page of the same origin without the widget, which could otherwise save its copy over it.
		const shop = page.url();
		await page.goto(`${suite.url}/v1/sites/${siteId}/availability`);
		await page.evaluate(
			({ siteId, chatId }) =>
				new Promise<void>((resolve, reject) => {
					const open = indexedDB.open("livechat", 1);
					open.onsuccess = () => {
						const store = open.result
							.transaction("chats", "readwrite")
							.objectStore("chats");
						const get = store.get(`${siteId}/${chatId}`);
						get.onsuccess = () => {
							const record = get.result;
							record.snapshot.token =
								record.snapshot.token.slice(0, -4) + "AAAA";
							store.put(record, `${siteId}/${chatId}`).onsuccess = () =>
								resolve();
						};
					};
					open.onerror = () => reject(open.error);
				}),
			{ siteId, chatId: first }
		);
		await page.goto(shop);
		await launcher(page).click();
		await page.getByText(/a new one has started/).waitFor({ timeout: 15_000 });
		await send(page, "After the token broke");
		const second = await currentChatId(page);
		expect(second).not.toBe(first);
		await assigned(suite, siteId, second, agent);
		await expect
			.poll(() => agentContents(suite, siteId, second, agent), {
				timeout: 15_000,
			})
			.toContain("After the token broke");
	});
});
