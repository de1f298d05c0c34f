/**
 * For the console's browser tests: an agent signing in at /console, and a visitor played over the
 * HTTP API and raw sockets in Node (never the widget, which is tested on its own).
 */
import { expect } from "vitest";
import WebSocket from "ws";
import type { BrowserSuite } from "./harness.ts";
import type { BrowserContext, Page } from "playwright-core";

export const PASSWORD = "console-test-password";

interface Message {
	id: string;
	type: number;
	content: string;
	dataOffset: number;
}

/** Records what the console asks of the Notification and Web Audio APIs, with notifications granted. */
export async function recordAlerts(context: BrowserContext): Promise<void> {
	await context.addInitScript(() => {
		const w = window as unknown as { __alerts: string[] };
		w.__alerts = [];
		class FakeNotification {
			static permission = "granted";
			static requestPermission = async () => "granted";
			onclick: unknown = null;
			constructor(title: string, options?: { body?: string }) {
				w.__alerts.push(`notification: ${title}: ${options?.body ?? ""}`);
			}
		}
		class FakeAudioContext {
			currentTime = 0;
			destination = {};
			createGain() {
				return { gain: { value: 0 }, connect: (to: unknown) => to };
			}
			createOscillator() {
				return {
					frequency: { value: 0 },
					connect: (to: unknown) => to,
					start: () => w.__alerts.push("sound"),
					stop: () => undefined,
				};
			}
		}
		Object.assign(window, {
			Notification: FakeNotification,
			AudioContext: FakeAudioContext,
		});
	});
}

export const alertsOf = (page: Page) =>
	page.evaluate(() => (window as unknown as { __alerts: string[] }).__alerts);

export async function signIn(
	suite: BrowserSuite,
	page: Page,
	siteId: string,
	email: string,
	password = PASSWORD
): Promise<void> {
	await page.goto(`${suite.url}/console?site=${siteId}`);
	await page.getByLabel("Email").fill(email);
	await page.getByLabel("Password").fill(password);
	await page.getByRole("button", { name: "Sign in" }).click();
	await page
		.getByText("Connected", { exact: true })
		.waitFor({ timeout: 15_000 });
}

/** The console's window size in these tests. */
export const viewport = { width: 1200, height: 760 };

/** A console of its own (a fresh browser context), signed in. */
export async function consoleOf(
	suite: BrowserSuite,
	name: string,
	siteId: string,
	email: string
) {
	const page = await suite.page(await suite.context({ viewport }), name);
	await signIn(suite, page, siteId, email);
	return page;
}

/** A site where Ann and Ben each have a console open. */
export async function annAndBen(suite: BrowserSuite) {
	const { siteId, agents } = await siteWithAgents(suite, [
		{ name: "Ann" },
		{ name: "Ben" },
	]);
	return {
		siteId,
		ann: await consoleOf(suite, "ann", siteId, agents.Ann!.email),
		ben: await consoleOf(suite, "ben", siteId, agents.Ben!.email),
	};
}

/** A fresh site and its agents (manual routing unless said otherwise). */
export async function siteWithAgents(
	suite: BrowserSuite,
	agents: { name: string; role?: "agent" | "supervisor" }[],
	config: Record<string, unknown> = {}
) {
	const siteId = `console-${crypto.randomUUID().slice(0, 8)}`;
	await suite.admin("PUT", `/sites/${siteId}`, {
		name: "Console test",
		routing: { mode: "manual", sticky: true },
		...config,
	});
	const created: Record<string, { id: string; email: string }> = {};
	for (const { name, role } of agents) {
		const email = `${name.toLowerCase()}@${siteId}.test`;
		const { agent } = await suite.admin<{ agent: { id: string } }>(
			"POST",
			`/sites/${siteId}/agents`,
			{
				email,
				name,
				password: PASSWORD,
				maxChats: 3,
				...(role ? { role } : {}),
			}
		);
		created[name] = { id: agent.id, email };
	}
	return { siteId, agents: created };
}

/** A visitor over the HTTP API: starts a chat, sends, and reads everything the chat holds. */
export class ApiVisitor {
	private constructor(
		readonly url: string,
		readonly siteId: string,
		readonly chatId: string,
		readonly token: string
	) {}

	static async start(
		url: string,
		siteId: string,
		name: string,
		extra: Record<string, unknown> = {}
	): Promise<ApiVisitor> {
		const response = await fetch(`${url}/v1/sites/${siteId}/chats`, {
			method: "POST",
			headers: { "Content-Type": "application/json" },
			body: JSON.stringify({ visitor: { name }, ...extra }),
		});
		expect(response.status, await response.clone().text()).toBe(201);
		const started = (await response.json()) as {
			chatId: string;
			token: string;
		};
		return new ApiVisitor(url, siteId, started.chatId, started.token);
	}

	private request(path: string, init: RequestInit = {}) {
		return fetch(
			`${this.url}/v1/sites/${this.siteId}/chats/${this.chatId}${path}`,
			{
				...init,
				headers: {
					Authorization: `Bearer ${this.token}`,
					"Content-Type": "application/json",
					"X-Visitor-Data-Offset": "0",
					"X-Agent-Data-Offset": "0",
				},
			}
		);
	}

	async send(content: string): Promise<void> {
		const response = await this.request("/messages", {
			method: "POST",
			body: JSON.stringify({ id: crypto.randomUUID(), content }),
		});
		expect(response.status, await response.clone().text()).toBe(200);
	}

	async messages(): Promise<Message[]> {
		return (
			(await (await this.request("/messages")).json()) as {
				messages: Message[];
			}
		).messages;
	}

	/** Waits until the chat holds a message from the service side with this content. */
	async heard(content: string): Promise<Message> {
		await expect
			.poll(
				async () =>
					(await this.messages()).some(
						(m) => m.type === 2 && m.content === content
					),
				{ timeout: 15_000 }
			)
			.toBe(true);
		return (await this.messages()).find((m) => m.content === content)!;
	}

	/** The visitor's chat socket, for typing and read frames both ways. */
	async socket(): Promise<FrameSocket> {
		const socket = await FrameSocket.open(
			`${this.url.replace(/^http/, "ws")}/v1/sites/${this.siteId}/chats/${this.chatId}/ws`
		);
		socket.send({
			type: "hello",
			token: this.token,
			visitorDataOffset: 0,
			agentDataOffset: 0,
		});
		await socket.next((f) => f.type === "sync");
		return socket;
	}
}

type Frame = { type: string; [field: string]: unknown };

/** A raw WebSocket whose JSON frames are kept, so a test can wait for one. */
export class FrameSocket {
	readonly frames: Frame[] = [];
	private constructor(private readonly ws: WebSocket) {
		ws.on("message", (data) => {
			const text = String(data);
			if (text !== "pong") this.frames.push(JSON.parse(text) as Frame);
		});
	}

	static open(url: string): Promise<FrameSocket> {
		return new Promise((resolve, reject) => {
			const ws = new WebSocket(url);
			ws.once("open", () => resolve(new FrameSocket(ws)));
			ws.once("error", reject);
		});
	}

	send(frame: unknown): void {
		this.ws.send(JSON.stringify(frame));
	}

	async next(
		match: (frame: Frame) => boolean,
		timeout = 15_000
	): Promise<Frame> {
		await expect.poll(() => this.frames.some(match), { timeout }).toBe(true);
		return this.frames.find(match)!;
	}

	close(): void {
		this.ws.close();
	}
}
