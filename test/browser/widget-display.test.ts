/**
 * What the visitor sees in the widget's log (SPEC §9): the newest message in view as the log grows
 * (the element that scrolls is the panel's body), read receipts that stay "Read" whatever order the
 * receipt and the ack come in and across a reload, and the end of a chat said once.
 */
import { describe, expect, it } from "vitest";
import { browserSuite } from "./harness.ts";
import {
	agentSend,
	agentSocket,
	assigned,
	call,
	inLog,
	launcher,
	openShop,
	send,
	startChat,
} from "./widget-helpers.ts";
import type { Page } from "playwright-core";

const suite = browserSuite({ port: 18980 });

/** The newest message and the element that scrolls it: the nearest ancestor that overflows and scrolls. */
const newestInView = (page: Page) =>
	page.locator("#livechat-widget").evaluate((host) => {
		const newest = host.shadowRoot!.querySelector(".log")!.lastElementChild!;
		let scroller = newest.parentElement;
		while (
			scroller &&
			!(
				scroller.scrollHeight > scroller.clientHeight + 1 &&
				/auto|scroll/.test(getComputedStyle(scroller).overflowY)
			)
		)
			scroller = scroller.parentElement;
		if (!scroller) return { overflows: false };
		const box = scroller.getBoundingClientRect();
		const message = newest.getBoundingClientRect();
		return {
			overflows: true,
			atBottom:
				scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight <= 2,
			newestVisible:
				message.top >= box.top - 1 && message.bottom <= box.bottom + 1,
		};
	});
const inView = { overflows: true, atBottom: true, newestVisible: true };

/** The receipt under the visitor's message with this text ("Sent", "Read", "Sending…"). */
const receipt = (page: Page, text: string) =>
	page.locator(".msg.visitor", { hasText: text }).locator(".state").innerText();

describe("the widget's log as the visitor sees it", () => {
	it("keeps the newest message in view as replies fill the log, also after the panel was closed", async () => {
		const { siteId, agent, page } = await openShop(suite, "visitor");
		const chatId = await startChat(page);
		await send(page, "Do you have tents for four?");
		await assigned(suite, siteId, chatId, agent);
		for (let n = 1; n <= 16; n++)
			await agentSend(suite, siteId, chatId, agent, `Tent number ${n}`);
		await inLog(page, "Tent number 16").waitFor({ timeout: 15_000 });
		await expect.poll(() => newestInView(page)).toEqual(inView);

		await send(page, "And a stove?");
		await inLog(page, "And a stove?").waitFor();
		await expect.poll(() => newestInView(page)).toEqual(inView);

		// Replies that come while the panel is closed are in view when it opens.
		await page.keyboard.press("Escape");
		for (let n = 1; n <= 4; n++)
			await agentSend(suite, siteId, chatId, agent, `Stove number ${n}`);
		await expect
			.poll(() => launcher(page).getAttribute("aria-label"), {
				timeout: 15_000,
			})
			.toMatch(/4 unread messages/);
		await launcher(page).click();
		await inLog(page, "Stove number 4").waitFor();
		await expect.poll(() => newestInView(page)).toEqual(inView);
	});

	it("shows Read once the agent's receipt came, even before the message's ack, and still after a reload", async () => {
		const { siteId, agent, page } = await openShop(suite, "visitor");
		// The chat socket's acks can be held back until the agent's read receipt has reached the page.
		let holdAcks = false;
		await page.routeWebSocket(/\/chats\/[^/]+\/ws$/, (ws) => {
			const server = ws.connectToServer();
			const held: (string | Buffer)[] = [];
			server.onMessage((message) => {
				const text = String(message);
				const type = text.startsWith("{")
					? (JSON.parse(text) as { type?: string }).type
					: undefined;
				if (holdAcks && type === "ack") return void held.push(message);
				ws.send(message);
				if (type === "read") {
					holdAcks = false;
					for (const ack of held.splice(0)) ws.send(ack);
				}
			});
		});
		const chatId = await startChat(page);
		await send(page, "Is the tent waterproof?");
		await assigned(suite, siteId, chatId, agent);
		const socket = await agentSocket(suite, siteId, chatId, agent);

		holdAcks = true;
		await send(page, "And does it pack small?");
		await expect
			.poll(() =>
				socket.frames.some(
					(f) =>
						f.type === "message" &&
						(f.message as { content: string }).content ===
							"And does it pack small?"
				)
			)
			.toBe(true);
		socket.send({ type: "read", visitorDataOffset: 2, agentDataOffset: 0 });
		await expect.poll(() => holdAcks, { timeout: 10_000 }).toBe(false);
		await expect
			.poll(() => receipt(page, "And does it pack small?"), { timeout: 10_000 })
			.toBe("Read");
		expect(await receipt(page, "Is the tent waterproof?")).toBe("Read");

		await page.reload();
		await launcher(page).click();
		await inLog(page, "And does it pack small?").waitFor({ timeout: 10_000 });
		expect(await receipt(page, "Is the tent waterproof?")).toBe("Read");
		expect(await receipt(page, "And does it pack small?")).toBe("Read");
		socket.close();
	});

	it("says once that the chat has ended, also after a reload", async () => {
		const { siteId, agent, page } = await openShop(suite, "visitor");
		const chatId = await startChat(page);
		await send(page, "That is all, thanks");
		await assigned(suite, siteId, chatId, agent);
		await call(
			suite,
			"POST",
			`/sites/${siteId}/chats/${chatId}/end`,
			agent.token
		);
		const saidEnded = () =>
			page.locator("#livechat-widget").evaluate((host) => {
				// What is on screen: the live region for screen readers is not.
				const panel = host.shadowRoot!.querySelector(".panel")!;
				const shown = Array.from(panel.children).filter(
					(el): el is HTMLElement =>
						el instanceof HTMLElement &&
						!el.classList.contains("announcer") &&
						el.checkVisibility()
				);
				return shown
					.map((el) => el.innerText)
					.join("\n")
					.match(/chat has ended/gi)?.length;
			});
		await page
			.getByRole("button", { name: "Start a new chat" })
			.waitFor({ timeout: 10_000 });
		await expect.poll(saidEnded).toBe(1);

		await page.reload();
		await launcher(page).click();
		await page.getByRole("button", { name: "Start a new chat" }).waitFor();
		await expect.poll(saidEnded).toBe(1);
	});
});
