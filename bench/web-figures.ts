/**
 * The browser figures of `npm run bench` (issue 10, SPEC §11): how the widget feels in a real
 * browser (time to the launcher on the demo page, agent-to-widget delivery). The browser is the
 * test suite's (test/browser/harness.ts); the script sizes are in web-sizes.ts.
 */
import { launchBrowser } from "../test/browser/harness.ts";
import { percentile } from "./http-load.ts";
import { LAUNCHER_WATCH, WAIT_FOR_TEXT } from "./web-page-scripts.ts";
import type { Browser, Frame, Page } from "playwright-core";

export interface Spread {
	samples: number;
	p50: number;
	p95: number;
	max: number;
}

const spread = (values: number[]): Spread => {
	const sorted = [...values].sort((a, b) => a - b);
	return {
		samples: sorted.length,
		p50: percentile(sorted, 50),
		p95: percentile(sorted, 95),
		max: sorted.at(-1) ?? NaN,
	};
};

/** Time to launcher on the demo page, each load in a fresh context (a first visit: nothing cached). */
export async function timeToLauncher(
	browser: Browser,
	baseUrl: string,
	loads = 7
): Promise<Spread> {
	const times: number[] = [];
	for (let i = 0; i < loads; i++) {
		const context = await browser.newContext();
		try {
			await context.addInitScript({ content: LAUNCHER_WATCH });
			const page = await context.newPage();
			await page.goto(baseUrl);
			times.push((await page.evaluate("window.launcherShownAt")) as number);
			// The same launcher as a person (and the tests) would find it.
			await page
				.getByRole("button", { name: /chat/i })
				.first()
				.waitFor({ timeout: 5_000 });
		} finally {
			await context.close();
		}
	}
	return spread(times);
}

const waitForText = async (frame: Frame, text: string) =>
	(await frame.evaluate(
		`(${WAIT_FOR_TEXT})(${JSON.stringify(text)})`
	)) as number;

async function within<T>(
	promise: Promise<T>,
	ms: number,
	message: string
): Promise<T> {
	let timer: ReturnType<typeof setTimeout> | undefined;
	try {
		return await Promise.race([
			promise,
			new Promise<never>(
				(_, reject) =>
					(timer = setTimeout(() => reject(new Error(message)), ms))
			),
		]);
	} finally {
		clearTimeout(timer);
	}
}

interface AgentSide {
	siteId: string;
	token: string;
	baseUrl: string;
}

async function agentCall<T>(
	agent: AgentSide,
	method: string,
	path: string,
	body?: unknown,
	headers: Record<string, string> = {}
): Promise<T> {
	const res = await fetch(`${agent.baseUrl}/v1/sites/${agent.siteId}${path}`, {
		method,
		headers: {
			Authorization: `Bearer ${agent.token}`,
			"Content-Type": "application/json",
			...headers,
		},
		body: body === undefined ? undefined : JSON.stringify(body),
	});
	const text = await res.text();
	if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`);
	return JSON.parse(text) as T;
}

/** A visitor opens the widget and says hello (through a prechat form if the site has one). */
async function visitorStarts(page: Page, hello: string): Promise<void> {
	await page.getByRole("button", { name: /chat/i }).first().click();
	const message = page.getByRole("textbox", { name: /message/i });
	const start = page.getByRole("button", { name: /start/i });
	for (
		const deadline = Date.now() + 15_000;
		!(await message.isVisible()) && !(await start.isVisible());
	) {
		if (Date.now() > deadline)
			throw new Error(
				"the widget offered neither a message box nor a chat start"
			);
		await new Promise((r) => setTimeout(r, 100));
	}
	if (await start.isVisible()) {
		const name = page.getByRole("textbox", { name: /name/i });
		if (await name.isVisible()) await name.fill("Bench Visitor");
		await start.click();
	}
	await message.fill(hello);
	await page.getByRole("button", { name: /send/i }).click();
}

/**
 * Agent to widget in the browser: the agent sends over the API (node), and the time is until the
 * text is in the widget's log (in the page, on the same machine's clock). Sequential messages, after
 * a few to warm the socket up. `agent` must be online (else the widget offers the offline form).
 */
export async function agentToWidget(
	browser: Browser,
	baseUrl: string,
	agent: AgentSide,
	messages = 20
): Promise<Spread> {
	const context = await browser.newContext();
	try {
		const page = await context.newPage();
		await page.goto(baseUrl);
		const hello = `bench hello ${crypto.randomUUID().slice(0, 8)}`;
		await visitorStarts(page, hello);
		let chatId: string | undefined;
		for (
			const deadline = Date.now() + 15_000;
			!chatId;
			await new Promise((r) => setTimeout(r, 200))
		) {
			if (Date.now() > deadline)
				throw new Error("the visitor's chat never reached the agent");
			const [queue, mine] = await Promise.all([
				agentCall<{ waiting: { chatId: string }[] }>(agent, "GET", "/queue"),
				agentCall<{ chats: { chatId: string }[] }>(
					agent,
					"GET",
					"/agents/me/chats"
				),
			]);
			chatId = [...queue.waiting, ...mine.chats].map((c) => c.chatId).at(-1);
		}
		await agentCall(agent, "POST", `/chats/${chatId}/accept`);
		const offsets = { visitor: 0, agent: 0 };
		const send = async (content: string) => {
			const answer = await agentCall<{
				code: number;
				visitorDataOffset: number;
				agentDataOffset: number;
			}>(
				agent,
				"POST",
				`/chats/${chatId}/messages`,
				{ id: crypto.randomUUID(), content },
				{
					"X-Visitor-Data-Offset": String(offsets.visitor),
					"X-Agent-Data-Offset": String(offsets.agent),
				}
			);
			if (answer.code !== 0)
				throw new Error(`agent send answered code ${answer.code}`);
			offsets.visitor = answer.visitorDataOffset;
			offsets.agent = answer.agentDataOffset;
		};
		// The widget's own visitor message is in the chat: start from the server's offsets.
		const polled = await agentCall<{
			visitorDataOffset: number;
			agentDataOffset: number;
		}>(agent, "GET", `/chats/${chatId}/messages`, undefined, {
			"X-Visitor-Data-Offset": "0",
			"X-Agent-Data-Offset": "0",
		});
		offsets.visitor = polled.visitorDataOffset;
		offsets.agent = polled.agentDataOffset;
		const times: number[] = [];
		for (let i = -3; i < messages; i++) {
			const text = `agent says ${i} ${crypto.randomUUID().slice(0, 8)}`;
			// Watch every frame: the chat window may be an iframe of the deployment.
			const arrived = Promise.any(
				page.frames().map((frame) => waitForText(frame, text))
			);
			await new Promise((r) => setTimeout(r, 50)); // the watchers are in place
			const sentAt = performance.timeOrigin + performance.now();
			await send(text);
			const at = await within(
				arrived,
				15_000,
				`"${text}" never showed in the widget`
			);
			if (i >= 0) times.push(at - sentAt);
			await new Promise((r) => setTimeout(r, 100));
		}
		return spread(times);
	} finally {
		await context.close();
	}
}

export interface WebTimings {
	launcher: Spread;
	delivery: Spread;
}

/** Both browser figures against a running deployment with the demo site and its demo agent (SPEC §12). */
export async function webTimings(baseUrl: string): Promise<WebTimings> {
	const browser = await launchBrowser();
	try {
		const login = await fetch(`${baseUrl}/v1/sites/demo/agent-sessions`, {
			method: "POST",
			headers: { "Content-Type": "application/json" },
			body: JSON.stringify({
				email: "agent@demo.local",
				password: "demo-password",
			}),
		});
		if (!login.ok)
			throw new Error(
				`demo agent login: ${login.status} ${await login.text()}`
			);
		const agent = {
			siteId: "demo",
			baseUrl,
			token: ((await login.json()) as { token: string }).token,
		};
		await agentCall(agent, "PUT", "/agents/me/status", { status: "online" });
		const launcher = await timeToLauncher(browser, baseUrl);
		const delivery = await agentToWidget(browser, baseUrl, agent);
		return { launcher, delivery };
	} finally {
		await browser.close();
	}
}
