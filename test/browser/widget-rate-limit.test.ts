/**
 * A message the room refuses for the visitor's rate (SPEC §6: messagesPerMinutePerVisitor) goes out
 * by itself once the limit allows, at the time the room's Retry-After gives, with no new send; the
 * error text goes once it is sent. The room's window is 60 s, so this test
 * waits about a minute.
 */
import { describe, expect, it } from "vitest";
import { browserSuite } from "./harness.ts";
import {
	agentContents,
	agentRead,
	assigned,
	inLog,
	openShop,
	send,
	startChat,
} from "./widget-helpers.ts";
import type { Page } from "playwright-core";

const suite = browserSuite({ port: 18960 });

/** Every time the page tries to send `content`: a socket `send` frame or an HTTP POST …/messages. */
function countTries(page: Page, content: string): () => number {
	let tries = 0;
	const carries = (payload: string) =>
		payload.includes(`"content":${JSON.stringify(content)}`);
	page.on("websocket", (ws) =>
		ws.on("framesent", ({ payload }) => {
			if (carries(String(payload)) && String(payload).includes('"type":"send"'))
				tries++;
		})
	);
	page.on("request", (request) => {
		if (
			request.method() === "POST" &&
			request.url().endsWith("/messages") &&
			carries(request.postData() ?? "")
		)
			tries++;
	});
	return () => tries;
}

describe("a rate-limited message in the widget", () => {
	it(
		"goes out by itself when the limit allows, and the error text goes",
		{ timeout: 115_000 },
		async () => {
			const { siteId, agent, page } = await openShop(
				suite,
				"visitor",
				{},
				{ limits: { messagesPerMinutePerVisitor: 2 } }
			);
			const tries = countTries(page, "Third, too fast");
			const chatId = await startChat(page);
			await send(page, "First");
			await inLog(page, "First")
				.locator("..")
				.getByText("Sent", { exact: true })
				.waitFor();
			await send(page, "Second");
			await inLog(page, "Second")
				.locator("..")
				.getByText("Sent", { exact: true })
				.waitFor();
			await send(page, "Third, too fast");
			const alert = page.getByRole("alert");
			await expect
				.poll(() => alert.textContent(), { timeout: 10_000 })
				.toMatch(/sending messages quickly/);
			await assigned(suite, siteId, chatId, agent);
			expect(await agentContents(suite, siteId, chatId, agent)).not.toContain(
				"Third, too fast"
			);

			// No click, no new send: the room's window (60 s from the first message) lets it through.
			const third = async () =>
				(await agentRead(suite, siteId, chatId, agent)).messages.filter(
					(m) => m.content === "Third, too fast"
				).length;
			// When the window allowed it, not some backoff later: the tries below show that, not a stopwatch.
			await expect.poll(third, { timeout: 75_000, interval: 1000 }).toBe(1);
			await expect
				.poll(() => alert.textContent(), { timeout: 10_000 })
				.toBe("");
			await inLog(page, "Third, too fast")
				.locator("..")
				.getByText("Sent", { exact: true })
				.waitFor();
			expect(await page.getByText("Sending…").count()).toBe(0);
			// Tried when the room said it could go (once, twice with a reconnect's flush), not on a backoff's
			// 1, 3, 7, 15, 31 s in between, each refused again (7 tries in all).
			expect(tries()).toBeLessThan(5);
			expect(await third()).toBe(1);
		}
	);
});
