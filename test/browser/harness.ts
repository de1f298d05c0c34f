/**
 * Browser tests: a real headless Chromium driven by playwright-core, against a real local
 * deployment (`npm start`'s script with its own state folder). The browser comes from `npm install`
 * (@sparticuz/chromium 138), or Debian's /usr/bin/chromium when the machine has it; it is never
 * downloaded at run time. A failed test leaves a screenshot and the page's console log per page
 * under test-results/browser/<file>/<test>/.
 */
import {
	existsSync,
	mkdirSync,
	mkdtempSync,
	readFileSync,
	rmSync,
	writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseEnv } from "node:util";
import chromium from "@sparticuz/chromium";
import { chromium as playwright } from "playwright-core";
import { afterAll, beforeAll, expect, onTestFinished } from "vitest";
import { startLocalDeployment } from "../../scripts/local-deployment.ts";
import type { LocalDeployment } from "../../scripts/local-deployment.ts";
import type {
	Browser,
	BrowserContext,
	BrowserContextOptions,
	Page,
} from "playwright-core";

const root = fileURLToPath(new URL("../..", import.meta.url));
export const RESULTS_DIR = join(root, "test-results", "browser");

export async function launchBrowser(): Promise<Browser> {
	const executablePath = existsSync("/usr/bin/chromium")
		? "/usr/bin/chromium"
		: await chromium.executablePath();
	// Not the package's own (AWS Lambda) flags: they crash here.
	return playwright.launch({
		executablePath,
		args: ["--no-sandbox", "--disable-gpu"],
		headless: true,
	});
}

/** The admin token of local deployments (.dev.vars, created from .dev.vars.example by `npm start`). */
export function adminToken(): string {
	const file = existsSync(join(root, ".dev.vars"))
		? ".dev.vars"
		: ".dev.vars.example";
	const token = parseEnv(readFileSync(join(root, file), "utf8")).ADMIN_TOKEN;
	if (!token) throw new Error(`${file} has no ADMIN_TOKEN`);
	return token;
}

export interface BrowserSuite {
	browser: Browser;
	deployment: LocalDeployment;
	/** The deployment's base URL, e.g. http://127.0.0.1:18900 */
	url: string;
	/** The deployment's state folder: a restart on it (same port) keeps sites and agents. */
	stateDir: string;
	/** A fresh browser context (its own storage: one visitor or one agent), closed after the test. */
	context(options?: BrowserContextOptions): Promise<BrowserContext>;
	/** A page in `context` whose console and errors are recorded; on a failed test, saved with a screenshot. */
	page(context: BrowserContext, name?: string): Promise<Page>;
	/** The admin API of the deployment (PUT a site, POST an agent, …): the JSON answer, or a throw on an unexpected status. */
	admin<T = unknown>(method: string, path: string, body?: unknown): Promise<T>;
}

/**
 * Call once at the top of a test file: one browser and one deployment for the file, on its own port
 * (pass a different one per file, 18900 and up; the suite runs files one at a time). The demo site
 * and demo agents are seeded by the deployment itself (SPEC §12).
 */
export function browserSuite(options: {
	port: number;
	chatState?: "durable" | "memory";
}): BrowserSuite {
	const stateRoot = mkdtempSync(join(tmpdir(), "elc-browser-"));
	const contexts: BrowserContext[] = [];
	const pages: { page: Page; name: string; log: string[] }[] = [];
	const suite = {} as BrowserSuite;

	beforeAll(async () => {
		const [browser, deployment] = await Promise.all([
			launchBrowser(),
			startLocalDeployment({
				port: options.port,
				stateDir: join(stateRoot, "state"),
				chatState: options.chatState,
			}),
		]);
		Object.assign(suite, {
			browser,
			deployment,
			url: deployment.url,
			stateDir: join(stateRoot, "state"),
		});
	});

	afterAll(async () => {
		await suite.browser?.close();
		await suite.deployment?.stop();
		rmSync(stateRoot, { recursive: true, force: true });
	});

	/** After each test that opened a context: a failed one saves every page first; then the contexts close. */
	const finish = async ({
		task,
	}: {
		task: {
			name: string;
			file?: { name: string };
			result?: { state?: string };
		};
	}) => {
		if (task.result?.state === "fail") {
			const dir = join(
				RESULTS_DIR,
				safe(task.file?.name ?? "unknown"),
				safe(task.name)
			);
			mkdirSync(dir, { recursive: true });
			for (const { page, name, log } of pages) {
				await page
					.screenshot({ path: join(dir, `${safe(name)}.png`), fullPage: true })
					.catch(() => undefined);
				writeFileSync(join(dir, `${safe(name)}.console.log`), log.join("\n"));
			}
		}
		pages.length = 0;
		await Promise.all(
			contexts.splice(0).map((c) => c.close().catch(() => undefined))
		);
	};

	suite.context = async (contextOptions = {}) => {
		if (contexts.length === 0) onTestFinished(finish);
		const context = await suite.browser.newContext(contextOptions);
		contexts.push(context);
		return context;
	};

	suite.page = async (context, name = `page-${pages.length + 1}`) => {
		const page = await context.newPage();
		const entry = { page, name, log: [] as string[] };
		page.on("console", (m) => entry.log.push(`[${m.type()}] ${m.text()}`));
		page.on("pageerror", (e) => entry.log.push(`[pageerror] ${e.message}`));
		pages.push(entry);
		return page;
	};

	suite.admin = <T>(method: string, path: string, body?: unknown) =>
		fetchOk<T>(`${suite.url}/v1/admin`, method, path, adminToken(), body);

	return suite;
}

/** A JSON call to `base + path` that must succeed; its answer's body, parsed. */
export async function fetchOk<T>(
	base: string,
	method: string,
	path: string,
	token?: string,
	body?: unknown
): Promise<T> {
	const response = await fetch(`${base}${path}`, {
		method,
		headers: {
			...(token ? { Authorization: `Bearer ${token}` } : {}),
			"Content-Type": "application/json",
		},
		body: body === undefined ? undefined : JSON.stringify(body),
	});
	const text = await response.text();
	expect(response.ok, `${method} ${path}: ${response.status} ${text}`).toBe(
		true
	);
	return (text ? JSON.parse(text) : undefined) as T;
}

const safe = (name: string) =>
	name.replace(/[^A-Za-z0-9._-]+/g, "_").slice(0, 120);

/**
 * The README's screenshots (docs/<name>.png), taken by the tests that show those screens. Written to
 * docs/ only with UPDATE_SCREENSHOTS=1, so that a plain `npm test` leaves the working tree as it was;
 * otherwise under test-results/browser/.
 */
export async function readmeScreenshot(
	page: Page,
	name: string
): Promise<void> {
	const dir =
		process.env.UPDATE_SCREENSHOTS === "1" ? join(root, "docs") : RESULTS_DIR;
	mkdirSync(dir, { recursive: true });
	await page.screenshot({ path: join(dir, `${name}.png`) });
}
