/**
 * The widget on a customer's own domain (SPEC §4 and §6): a page on another origin embeds
 * livechat.js with the demo page's own tag, and a visitor chats from it. Only what a person sees is
 * used on the page (roles and labels); the agent side is played over the API.
 */
import { readFileSync } from "node:fs";
import { createServer } from "node:http";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { browserSuite } from "./harness.ts";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Locator, Page } from "playwright-core";

const suite = browserSuite({ port: 18950 });
const DEMO_PAGE = fileURLToPath(
	new URL("../../public/index.html", import.meta.url)
);

/** The demo page's embed tag, pointed at the deployment: whatever attributes the widget takes, the customer copies them. */
function embedTag(deploymentUrl: string): string {
	const tag = /<script\b[^>]*\bsrc="\/livechat\.js"[^>]*><\/script>/.exec(
		readFileSync(DEMO_PAGE, "utf8")
	)?.[0];
	if (!tag)
		throw new Error('public/index.html has no <script src="/livechat.js"> tag');
	return tag.replace(
		'src="/livechat.js"',
		`src="${deploymentUrl}/livechat.js"`
	);
}

/** A customer's shop on its own origin (another port of 127.0.0.1), serving one page with the widget. */
async function customerSite(
	deploymentUrl: string
): Promise<{ url: string; server: Server }> {
	const html = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Cross-origin shop</title></head>
<body><h1>A customer's shop</h1>${embedTag(deploymentUrl)}</body></html>`;
	const server = createServer((_req, res) =>
		res.writeHead(200, { "Content-Type": "text/html; charset=utf-8" }).end(html)
	);
	await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
	return {
		url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
		server,
	};
}

let allowedShop: { url: string; server: Server };
let otherShop: { url: string; server: Server };
let agentToken: string;

async function agentApi<T>(
	method: string,
	path: string,
	body?: unknown,
	headers: Record<string, string> = {}
): Promise<T> {
	const res = await fetch(`${suite.url}/v1/sites/demo${path}`, {
		method,
		headers: {
			Authorization: `Bearer ${agentToken}`,
			"Content-Type": "application/json",
			...headers,
		},
		body: body === undefined ? undefined : JSON.stringify(body),
	});
	const text = await res.text();
	expect(res.ok, `${method} ${path}: ${res.status} ${text}`).toBe(true);
	return JSON.parse(text) as T;
}

/** The demo chats the agent can see: waiting, or already routed to it (the demo site routes automatically). */
async function agentChatIds(): Promise<string[]> {
	const [queue, mine] = await Promise.all([
		agentApi<{ waiting: { chatId: string }[] }>("GET", "/queue"),
		agentApi<{ chats: { chatId: string }[] }>("GET", "/agents/me/chats"),
	]);
	return [...new Set([...queue.waiting, ...mine.chats].map((c) => c.chatId))];
}

/** Opens the widget and gets to a message box, through a prechat form when the site has one. */
async function startChat(page: Page): Promise<void> {
	await page.getByRole("button", { name: /chat/i }).first().click();
	const message = page.getByRole("textbox", { name: /message/i });
	const start = page.getByRole("button", { name: /start/i });
	await expect
		.poll(
			async () => (await message.isVisible()) || (await start.isVisible()),
			{ timeout: 15_000 }
		)
		.toBe(true);
	if (await start.isVisible()) {
		const name = page.getByRole("textbox", { name: /name/i });
		if (await name.isVisible()) await name.fill("Cora Cross");
		await start.click();
	}
	await message.waitFor({ timeout: 15_000 });
}

const shown = (locator: Locator, timeout: number) =>
	locator.waitFor({ timeout }).then(
		() => true,
		() => false
	);

async function sendMessage(page: Page, text: string): Promise<void> {
	await page.getByRole("textbox", { name: /message/i }).fill(text);
	await page.getByRole("button", { name: /send/i }).click();
}

beforeAll(async () => {
	[allowedShop, otherShop] = await Promise.all([
		customerSite(suite.url),
		customerSite(suite.url),
	]);
	// The demo site takes calls from the first shop only.
	const demo = await suite.admin<Record<string, unknown>>("GET", "/sites/demo");
	await suite.admin("PUT", "/sites/demo", {
		...demo,
		allowedOrigins: [allowedShop.url],
	});
	const login = await fetch(`${suite.url}/v1/sites/demo/agent-sessions`, {
		method: "POST",
		headers: { "Content-Type": "application/json" },
		body: JSON.stringify({
			email: "agent@demo.local",
			password: "demo-password",
		}),
	});
	expect(login.ok, `agent login: ${login.status}`).toBe(true);
	agentToken = ((await login.json()) as { token: string }).token;
	// Online, so that the widget offers a chat rather than the offline form.
	await agentApi("PUT", "/agents/me/status", { status: "online" });
});

afterAll(async () => {
	await Promise.all(
		[allowedShop, otherShop].map(
			({ server }) => new Promise((resolve) => server.close(resolve))
		)
	);
});

describe("the widget embedded on another origin", () => {
	it("starts a chat from a listed origin, and the visitor's message reaches the agent", async () => {
		const page = await suite.page(await suite.context(), "visitor");
		await page.goto(allowedShop.url);
		await startChat(page);
		const text = `Hello from ${allowedShop.url} ${crypto.randomUUID().slice(0, 8)}`;
		await sendMessage(page, text);

		let chatId: string | undefined;
		await expect
			.poll(async () => (chatId = (await agentChatIds())[0]), {
				timeout: 15_000,
			})
			.toBeDefined();
		await agentApi("POST", `/chats/${chatId}/accept`);
		await expect
			.poll(
				async () => {
					const result = await agentApi<{ messages: { content: string }[] }>(
						"GET",
						`/chats/${chatId}/messages`,
						undefined,
						{ "X-Visitor-Data-Offset": "0", "X-Agent-Data-Offset": "0" }
					);
					return result.messages.map((m) => m.content);
				},
				{ timeout: 15_000 }
			)
			.toContain(text);
	});

	it("starts nothing from an origin the site does not list", async () => {
		const before = await agentChatIds();
		const page = await suite.page(await suite.context(), "visitor-elsewhere");
		// A refused preflight fails the request; a simple request gets its 403 (unreadable to the page).
		let refusals = 0;
		const isApi = (url: string) => url.startsWith(`${suite.url}/v1/sites/`);
		page.on("requestfailed", (req) => void (isApi(req.url()) && refusals++));
		page.on(
			"response",
			(res) => void (isApi(res.url()) && res.status() === 403 && refusals++)
		);
		await page.goto(otherShop.url);
		await page.getByRole("button", { name: /chat/i }).first().click();
		// Whatever the widget offers without the API's answers: a prechat form, a message box, or neither.
		const start = page.getByRole("button", { name: /start/i });
		if (await shown(start, 5_000)) {
			const name = page.getByRole("textbox", { name: /name/i });
			if (await name.isVisible()) await name.fill("Mallory");
			await start.click();
		}
		// A widget that starts the chat with its first message: try that too.
		if (await shown(page.getByRole("textbox", { name: /message/i }), 2_000))
			await sendMessage(page, "Can anyone hear me?");
		await expect.poll(() => refusals, { timeout: 15_000 }).toBeGreaterThan(0);
		expect(await agentChatIds()).toEqual(before);
	});
});
