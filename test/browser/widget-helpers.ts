/**
 * The widget's browser tests: a site of their own (so agents' capacity and availability are the
 * test's), a page of that site's origin that embeds livechat.js (served by route, same origin as the
 * deployment), and an agent played over the API (HTTP, and a socket for typing and read frames).
 */
import { expect } from "vitest";
import WebSocket from "ws";
import { fetchOk } from "./harness.ts";
import type { BrowserSuite } from "./harness.ts";
import type { BrowserContext, Page } from "playwright-core";

export interface TestAgent {
	token: string;
	id: string;
	name: string;
}

/** A site with the given widget config and one agent (offline until `online`). */
export async function widgetSite(
	suite: BrowserSuite,
	widget: Record<string, unknown> = {},
	extra: Record<string, unknown> = {}
): Promise<{ siteId: string; agent: TestAgent }> {
	const siteId = `w-${crypto.randomUUID().slice(0, 8)}`;
	await suite.admin("PUT", `/sites/${siteId}`, {
		name: "Widget test shop",
		widget,
		...extra,
	});
	const email = `agent-${siteId}@example.com`;
	await suite.admin("POST", `/sites/${siteId}/agents`, {
		email,
		name: "Anna Agent",
		password: "agent-password",
		maxChats: 20,
	});
	const login = await call<{
		token: string;
		agent: { id: string; name: string };
	}>(suite, "POST", `/sites/${siteId}/agent-sessions`, undefined, {
		email,
		password: "agent-password",
	});
	return {
		siteId,
		agent: { token: login.token, id: login.agent.id, name: login.agent.name },
	};
}

export const call = <T>(
	suite: BrowserSuite,
	method: string,
	path: string,
	token?: string,
	body?: unknown
) => fetchOk<T>(`${suite.url}/v1`, method, path, token, body);

export const online = (suite: BrowserSuite, siteId: string, agent: TestAgent) =>
	call(suite, "PUT", `/sites/${siteId}/agents/me/status`, agent.token, {
		status: "online",
	});

/** A page of the shop, on the deployment's origin, with the embed tag of the README. */
export async function shopPage(
	suite: BrowserSuite,
	context: BrowserContext,
	siteId: string,
	name?: string
): Promise<Page> {
	const url = `${suite.url}/shop/${siteId}`;
	await context.route(url, (route) =>
		route.fulfill({
			contentType: "text/html; charset=utf-8",
			body: `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>Widget test shop</title></head>
<body><h1>Widget test shop</h1><p>Tents and stoves.</p><script src="/livechat.js" data-site-id="${siteId}"></script></body></html>`,
		})
	);
	const page = await suite.page(context, name);
	await page.goto(url);
	return page;
}

/** A site whose agent is online, and a page of its shop in a fresh browser context: where most widget tests begin. */
export async function openShop(
	suite: BrowserSuite,
	name = "visitor",
	widget: Record<string, unknown> = {},
	extra: Record<string, unknown> = {}
) {
	const { siteId, agent } = await widgetSite(suite, widget, extra);
	await online(suite, siteId, agent);
	const context = await suite.context();
	const page = await shopPage(suite, context, siteId, name);
	return { siteId, agent, context, page };
}

export const launcher = (page: Page) =>
	page.getByRole("button", { name: /chat with us/i });
export const messageBox = (page: Page) =>
	page.getByRole("textbox", { name: "Message" });

/** Opens the widget and starts a chat through the prechat form. */
export async function startChat(
	page: Page,
	name = "Vera Visitor"
): Promise<string> {
	await launcher(page).click();
	await page.getByRole("textbox", { name: /your name/i }).fill(name);
	await page.getByRole("button", { name: "Start chatting" }).click();
	await messageBox(page).waitFor({ timeout: 15_000 });
	return currentChatId(page);
}

export async function send(page: Page, text: string): Promise<void> {
	await messageBox(page).fill(text);
	await messageBox(page).press("Enter");
}

/** The chat the widget keeps open (IndexedDB), as the page sees it. */
export function currentChatId(page: Page): Promise<string> {
	return page.evaluate(
		() =>
			new Promise<string>((resolve, reject) => {
				const open = indexedDB.open("livechat", 1);
				open.onerror = () => reject(open.error);
				open.onsuccess = () => {
					const siteId = document.querySelector<HTMLScriptElement>(
						"script[data-site-id]"
					)!.dataset.siteId!;
					const get = open.result
						.transaction("values")
						.objectStore("values")
						.get(`current:${siteId}`);
					get.onsuccess = () => resolve(get.result as string);
				};
			})
	);
}

export interface Message {
	id: string;
	type: number;
	content: string;
	dataOffset: number;
}

/** Everything in the chat as the agent reads it. */
export async function agentRead(
	suite: BrowserSuite,
	siteId: string,
	chatId: string,
	agent: TestAgent
): Promise<{ messages: Message[]; status?: string; code: number }> {
	return call(
		suite,
		"GET",
		`/sites/${siteId}/chats/${chatId}/messages`,
		agent.token
	);
}

/** The contents of the chat's messages, as the agent reads them. */
export const agentContents = async (
	suite: BrowserSuite,
	siteId: string,
	chatId: string,
	agent: TestAgent
) =>
	(await agentRead(suite, siteId, chatId, agent)).messages.map(
		(m) => m.content
	);

export async function agentSend(
	suite: BrowserSuite,
	siteId: string,
	chatId: string,
	agent: TestAgent,
	content: string
): Promise<void> {
	await call(
		suite,
		"POST",
		`/sites/${siteId}/chats/${chatId}/messages`,
		agent.token,
		{ id: crypto.randomUUID(), content }
	);
}

/** Waits until the agent holds the chat (auto routing). */
export async function assigned(
	suite: BrowserSuite,
	siteId: string,
	chatId: string,
	agent: TestAgent
): Promise<void> {
	await expect
		.poll(
			async () =>
				(
					await fetch(
						`${suite.url}/v1/sites/${siteId}/chats/${chatId}/messages`,
						{ headers: { Authorization: `Bearer ${agent.token}` } }
					)
				).status,
			{ timeout: 15_000 }
		)
		.toBe(200);
}

/** The agent's socket in the chat: frames it receives, and typing/read frames it sends. */
export async function agentSocket(
	suite: BrowserSuite,
	siteId: string,
	chatId: string,
	agent: TestAgent
) {
	const ws = new WebSocket(
		`${suite.url.replace(/^http/, "ws")}/v1/sites/${siteId}/chats/${chatId}/ws`
	);
	const frames: Record<string, unknown>[] = [];
	ws.on("message", (data) => {
		const text = String(data);
		if (text !== "pong")
			frames.push(JSON.parse(text) as Record<string, unknown>);
	});
	await new Promise((resolve, reject) => {
		ws.once("open", resolve);
		ws.once("error", reject);
	});
	ws.send(
		JSON.stringify({
			type: "hello",
			token: agent.token,
			visitorDataOffset: 0,
			agentDataOffset: 0,
		})
	);
	await expect
		.poll(() => frames.some((f) => f.type === "sync"), { timeout: 10_000 })
		.toBe(true);
	return {
		frames,
		send: (frame: unknown) => ws.send(JSON.stringify(frame)),
		close: () => ws.close(),
	};
}

/** A message in the widget's log (not the screen reader's announcement of it). */
export const inLog = (page: Page, text: string) =>
	page.locator(".log").getByText(text, { exact: true });
