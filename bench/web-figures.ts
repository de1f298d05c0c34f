/**
 * The web figures of `npm run bench` (issue 10, SPEC §11): what the widget costs a page (script
 * sizes, raw and gzipped) and how it feels in a real browser (time to the launcher on the demo page,
 * agent-to-widget delivery). The browser is the test suite's (test/browser/harness.ts).
 */
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { launchBrowser } from "../test/browser/harness.ts";
import { percentile } from "./http-load.ts";
import type { Browser, Frame, Page } from "playwright-core";

const root = fileURLToPath(new URL("..", import.meta.url));
const publicDir = join(root, "public");

/** SPEC §11. */
export const LOADER_LIMIT_GZ = 10 * 1024;
export const WINDOW_LIMIT_GZ = 35 * 1024;
export const LOADER_FILE = "livechat.js";

export interface ScriptSize {
	/** Path under public/, e.g. "livechat.js". */
	file: string;
	raw: number;
	gzip: number;
}

export interface WebSizes {
	scripts: ScriptSize[];
	loader?: ScriptSize;
	/** The chat window the loader fetches when opened; none while the widget is one script. */
	window?: ScriptSize;
}

/** Builds the web bundles as `npm start` does, then measures every script public/ serves. */
export function webSizes(): WebSizes {
	execFileSync(process.execPath, ["scripts/build-web.mjs"], {
		cwd: root,
		stdio: "inherit",
	});
	const scripts = readdirSync(publicDir, {
		recursive: true,
		withFileTypes: true,
	})
		.filter((entry) => entry.isFile() && /\.m?js$/.test(entry.name))
		.map((entry) => {
			const bytes = readFileSync(join(entry.parentPath, entry.name));
			// node:zlib's default level (6), as servers and CDNs commonly compress.
			return {
				file: relative(publicDir, join(entry.parentPath, entry.name)),
				raw: bytes.length,
				gzip: gzipSync(bytes).length,
			};
		})
		.sort((a, b) => a.file.localeCompare(b.file));
	const widgetChunks = scripts.filter(
		(s) => s.file !== LOADER_FILE && !/console/i.test(s.file)
	);
	return {
		scripts,
		loader: scripts.find((s) => s.file === LOADER_FILE),
		window:
			widgetChunks.find((s) => /window/i.test(s.file)) ??
			widgetChunks.find((s) => /chat|widget/i.test(s.file)),
	};
}

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

/**
 * In the page, from the start of its navigation (performance.now() counts from it) to the first
 * frame where a button named like the launcher is laid out, looked for through open shadow roots.
 * In-page code is plain text: tsx would wrap named functions in a helper the page does not have.
 */
const LAUNCHER_WATCH = `
window.launcherShownAt = new Promise((resolve) => {
	function visibleLauncher(root) {
		for (const el of root.querySelectorAll("*")) {
			if (el.shadowRoot && visibleLauncher(el.shadowRoot)) return true;
			const isButton = el.tagName === "BUTTON" || el.getAttribute("role") === "button";
			if (isButton && /chat/i.test((el.getAttribute("aria-label") || "") + " " + el.textContent)) {
				const box = el.getBoundingClientRect();
				if (box.width > 0 && box.height > 0) return true;
			}
		}
		return false;
	}
	function tick() {
		if (document.body && visibleLauncher(document)) resolve(performance.now());
		else requestAnimationFrame(tick);
	}
	requestAnimationFrame(tick);
});`;

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

/** When `text` is in the frame's document or any of its open shadow roots: the epoch time in ms, high resolution. */
const WAIT_FOR_TEXT = `(text) => new Promise((resolve) => {
	function roots() {
		const found = [document.body];
		for (let i = 0; i < found.length; i++) for (const el of found[i].querySelectorAll("*")) if (el.shadowRoot) found.push(el.shadowRoot);
		return found;
	}
	const observers = [];
	function check() {
		if (!roots().some((r) => r.textContent.includes(text))) return false;
		const at = performance.timeOrigin + performance.now();
		for (const o of observers) o.disconnect();
		resolve(at);
		return true;
	}
	if (check()) return;
	for (const r of roots()) {
		const observer = new MutationObserver(check);
		observer.observe(r, { childList: true, subtree: true, characterData: true });
		observers.push(observer);
	}
})`;

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
