/**
 * The widget's chat window (livechat-window.js), fetched by the loader when the visitor opens the
 * chat or something arrives in an open one (SPEC §9). A panel in the loader's Shadow DOM on top of
 * LiveChatClient, whose copy and outbox live in IndexedDB (bounded, see IndexedDbStore): a reload
 * or a page change loses nothing, and the socket is back on every page while the chat is open.
 *
 * Never a dead end: an ended chat offers a rating and a new chat; a token the server no longer
 * takes (expired, or a deployment with other keys) moves the visitor and its unsent messages into a
 * fresh chat; sends refused for a while (rate limit, offline) are retried by themselves.
 * The log is updated in place (one element per message id), and a separate polite live region
 * announces new replies, so screen readers hear each message once.
 */
import { LiveChatClient, LiveChatError } from "../client/live-chat-client.ts";
import { MemoryStore } from "../client/store.ts";
import { Unreachable } from "../client/transport.ts";
import { STYLE } from "./chat-window-style.ts";
import { IndexedDbStore } from "./idb-store.ts";
import {
	chatKey,
	CONTEXT_GLOBAL,
	currentChatKey,
	readKey,
} from "./widget-shared.ts";
import type { ChatEvent } from "../client/live-chat-client.ts";
import type { ChatStore } from "../client/store.ts";
import type { ChatMessage } from "../src/protocol/chat.ts";
import type { WidgetConfig } from "../src/protocol/site-config.ts";
import type {
	ChatWindow,
	LoaderContext,
	VisitorIdentity,
} from "./widget-shared.ts";

const ctx = (window as unknown as Record<string, LoaderContext | undefined>)[
	CONTEXT_GLOBAL
];
if (!ctx) throw new Error("livechat-window.js is loaded by livechat.js");
const { siteId, baseUrls, root, launcher } = ctx;
ctx.releaseSocket();

const panel = document.createElement("section");
panel.className = "panel";
panel.hidden = true;
panel.setAttribute("role", "dialog");
panel.setAttribute("aria-labelledby", "lc-title");
panel.innerHTML = `<style>${STYLE}</style>
<header><h2 id="lc-title">Chat with us</h2><button class="end" type="button" hidden>End chat</button><button class="close" type="button" aria-label="Close chat">✕</button></header>
<div class="notice" role="status"></div>
<div class="body">
  <p class="greeting" hidden></p>
  <form class="prechat" hidden novalidate>
    <label>Your name <input name="name" autocomplete="name" maxlength="200" required></label>
    <label>Email (optional) <input name="email" type="email" autocomplete="email" maxlength="320"></label>
    <div class="fields"></div>
    <button class="primary">Start chatting</button>
  </form>
  <form class="offline" hidden novalidate>
    <p>No one is available right now. Leave a message and we will answer by email.</p>
    <label>Your name <input name="name" autocomplete="name" maxlength="200"></label>
    <label>Email <input name="email" type="email" autocomplete="email" maxlength="320" required></label>
    <label>Message <textarea name="message" rows="4" maxlength="4000" required></textarea></label>
    <button class="primary">Send message</button>
  </form>
  <div class="log" hidden></div>
  <div class="ended" hidden>
    <p><strong>This chat has ended.</strong></p>
    <div class="rating" role="group" aria-label="Rate this chat"><p>How was it?</p><div class="stars"></div></div>
    <button class="primary restart" type="button">Start a new chat</button>
  </div>
</div>
<div class="typing" aria-hidden="true" hidden></div>
<div class="error" role="alert"></div>
<form class="compose" hidden>
  <textarea name="content" rows="1" maxlength="4000" placeholder="Type a message…" aria-label="Message"></textarea>
  <button class="primary">Send</button>
</form>
<div class="announcer" aria-live="polite"></div>`;
root.append(panel);
if (ctx.fullPage) {
	panel.classList.add("full");
	panel.querySelector<HTMLElement>(".close")!.hidden = true;
}

const $ = <T extends Element>(selector: string) =>
	panel.querySelector(selector) as T;
const notice = $<HTMLElement>(".notice");
const errorBox = $<HTMLElement>(".error");
const greeting = $<HTMLElement>(".greeting");
const prechat = $<HTMLFormElement>(".prechat");
const offline = $<HTMLFormElement>(".offline");
const logView = $<HTMLElement>(".log");
const ended = $<HTMLElement>(".ended");
const compose = $<HTMLFormElement>(".compose");
const textarea = compose.elements.namedItem("content") as HTMLTextAreaElement;
const typingView = $<HTMLElement>(".typing");
const announcer = $<HTMLElement>(".announcer");
const endButton = $<HTMLButtonElement>(".end");

let config: WidgetConfig = {
	prechat: { fields: [] },
	offlineForm: true,
	rating: true,
};
let store: ChatStore = new MemoryStore();
let client: LiveChatClient | undefined;
let readOffset = 0;
/** Text of a message the server refused because the chat had ended: offered again in the next chat. */
let carryOver = "";
let invitation: { agentName: string; message: string } | undefined;
const bubbles = new Map<string, HTMLElement>();

type View = "loading" | "prechat" | "offline" | "chat";
function show(view: View): void {
	prechat.hidden = view !== "prechat";
	offline.hidden = view !== "offline";
	logView.hidden = view !== "chat";
	greeting.hidden = view !== "prechat" || !greeting.textContent;
	const over = view === "chat" && client?.status === "ended";
	compose.hidden = view !== "chat" || over;
	ended.hidden = !over;
	endButton.hidden = view !== "chat" || over;
	if (view !== "chat") typingView.hidden = true;
}

// ——— opening and closing ———

const controller: ChatWindow = {
	get isOpen() {
		return !panel.hidden;
	},
	open() {
		panel.hidden = false;
		launcher.setAttribute("aria-expanded", "true");
		launcher.classList.add("open");
		void ready.then(() => {
			focusFirst();
			markSeen();
		});
	},
	close() {
		if (ctx!.fullPage) return;
		panel.hidden = true;
		launcher.setAttribute("aria-expanded", "false");
		launcher.classList.remove("open");
		launcher.focus();
	},
	invite(agentName, message) {
		invitation = { agentName, message };
		if (!client || client.status === "ended") showInvitation();
		controller.open();
	},
	identified() {
		for (const form of [prechat, offline]) fillIdentity(form, true);
	},
};
ctx.window = controller;

/** Focus goes into the panel, to what the visitor does next there. */
function focusFirst(): void {
	const target =
		[prechat, offline, compose]
			.find((f) => !f.hidden)
			?.querySelector<HTMLElement>("input, textarea") ??
		(!ended.hidden ? ended.querySelector<HTMLElement>("button") : null);
	(target ?? $<HTMLElement>(".close")).focus();
}

$<HTMLButtonElement>(".close").addEventListener("click", () =>
	controller.close()
);
panel.addEventListener("keydown", (event) => {
	if (event.key === "Escape") {
		event.stopPropagation();
		controller.close();
	}
});

// ——— start: resume the open chat, or offer a new one ———

const ready = start();

async function start(): Promise<void> {
	show("loading");
	const db = await ctx!.db;
	if (db) store = new IndexedDbStore(db);
	config = await ctx!.config;
	if (config.title) $("#lc-title").textContent = config.title;
	if (config.greeting) greeting.textContent = config.greeting;
	buildPrechatFields();
	const chatId = await store
		.loadValue?.(currentChatKey(siteId))
		.catch(() => undefined);
	const resumed = chatId
		? await LiveChatClient.resume({
				baseUrls,
				siteId,
				chatId,
				store,
				onEvent,
			}).catch(() => undefined)
		: undefined;
	if (resumed) await attach(resumed, true);
	else await offerNewChat();
}

async function offerNewChat(): Promise<void> {
	client = undefined;
	notice.textContent = "";
	const availability = await fetch(
		`${baseUrls[0]}/v1/sites/${siteId}/availability`
	)
		.then((r) =>
			r.ok ? (r.json() as Promise<{ online: boolean }>) : { online: true }
		)
		.catch(() => ({ online: true }));
	if (!availability.online && config.offlineForm) {
		fillIdentity(offline);
		show("offline");
	} else {
		fillIdentity(prechat);
		showInvitation();
		show("prechat");
	}
}

function showInvitation(): void {
	if (invitation)
		greeting.textContent = `${invitation.agentName ? `${invitation.agentName}: ` : ""}${invitation.message}`;
	greeting.hidden = prechat.hidden || !greeting.textContent;
}

function buildPrechatFields(): void {
	const box = $<HTMLElement>(".fields");
	box.replaceChildren();
	for (const field of config.prechat.fields) {
		const label = document.createElement("label");
		label.append(`${field.label}${field.required ? "" : " (optional)"} `);
		const input = document.createElement("input");
		input.name = `prechat:${field.name}`;
		input.maxLength = 500;
		input.required = field.required;
		label.append(input);
		box.append(label);
	}
	if (config.departments?.length) {
		const label = document.createElement("label");
		label.append("Department ");
		const select = document.createElement("select");
		select.name = "department";
		for (const name of config.departments)
			select.append(new Option(name, name));
		label.append(select);
		box.append(label);
	}
}

const identityKey = `visitor:${siteId}`;
async function knownIdentity(): Promise<VisitorIdentity> {
	const kept = await store.loadValue?.(identityKey).catch(() => undefined);
	const stored = kept ? (JSON.parse(kept) as VisitorIdentity) : {};
	return { ...stored, ...ctx!.identity };
}

/** Empty fields take the known name and email; with `fromPage`, the page's identify() wins over what is typed. */
function fillIdentity(form: HTMLFormElement, fromPage = false): void {
	void knownIdentity().then((who) => {
		for (const key of ["name", "email"] as const) {
			const input = form.elements.namedItem(key) as HTMLInputElement | null;
			const value = fromPage ? ctx!.identity[key] : who[key];
			if (input && (fromPage || !input.value) && value) input.value = value;
		}
	});
}

/** The form's own checks, said in words (and announced): the browser's bubbles are not read out everywhere. */
function invalid(form: HTMLFormElement): boolean {
	const bad = Array.from(
		form.querySelectorAll<HTMLInputElement | HTMLTextAreaElement>(
			"input, textarea"
		)
	).find((i) => !i.checkValidity());
	if (!bad) return false;
	const label =
		bad.closest("label")?.firstChild?.textContent?.trim() ?? "This field";
	showError(
		bad.validity.valueMissing
			? `${label.replace(/ \(optional\)$/, "")} is needed.`
			: `${label} does not look right.`
	);
	bad.setAttribute("aria-invalid", "true");
	bad.focus();
	return true;
}

prechat.addEventListener("submit", async (event) => {
	event.preventDefault();
	if (invalid(prechat)) return;
	const data = new FormData(prechat);
	const visitor: VisitorIdentity = { name: String(data.get("name")).trim() };
	const email = String(data.get("email") ?? "").trim();
	if (email) visitor.email = email;
	const fields: Record<string, string> = {};
	data.forEach((value, key) => {
		if (key.startsWith("prechat:") && String(value).trim())
			fields[key.slice(8)] = String(value).trim();
	});
	const department = data.get("department")
		? String(data.get("department"))
		: undefined;
	await store
		.saveValue?.(identityKey, JSON.stringify(visitor))
		.catch(() => undefined);
	await startChat(
		visitor,
		Object.keys(fields).length ? fields : undefined,
		department
	);
});

async function startChat(
	visitor: VisitorIdentity,
	prechatFields?: Record<string, string>,
	department?: string,
	carried: string[] = []
): Promise<boolean> {
	clearError();
	const button = prechat.querySelector("button")!;
	button.disabled = true;
	try {
		const started = await LiveChatClient.startChat({
			baseUrls,
			siteId,
			store,
			visitor,
			prechat: prechatFields,
			department,
			onEvent,
		});
		await store
			.saveValue?.(currentChatKey(siteId), started.chatId)
			.catch(() => undefined);
		await attach(started, false);
		for (const content of carried) send(content);
		focusFirst();
		return true;
	} catch (error) {
		showError(human(error, "start"));
		return false;
	} finally {
		button.disabled = false;
	}
}

offline.addEventListener("submit", async (event) => {
	event.preventDefault();
	if (invalid(offline)) return;
	const data = new FormData(offline);
	const text = (key: string) => String(data.get(key) ?? "").trim() || undefined;
	try {
		await LiveChatClient.submitOfflineMessage(
			{ baseUrls, siteId },
			{ name: text("name"), email: text("email")!, message: text("message")! }
		);
		clearError();
		offline.replaceChildren(
			Object.assign(document.createElement("p"), {
				className: "thanks",
				textContent:
					"Thank you! Your message has been sent. We will answer by email.",
			})
		);
		notice.textContent = "Your message has been sent.";
	} catch (error) {
		showError(human(error, "offline"));
	}
});

// ——— an open chat ———

async function attach(next: LiveChatClient, resumed: boolean): Promise<void> {
	client?.disconnect();
	client = next;
	bubbles.clear();
	logView.replaceChildren();
	if (config.greeting)
		logView.append(
			bubble({
				kind: "agent greeting",
				text: config.greeting,
				name: config.title,
			})
		);
	if (invitation && !resumed)
		logView.append(
			bubble({
				kind: "agent greeting",
				text: invitation.message,
				name: invitation.agentName,
			})
		);
	invitation = undefined;
	readOffset = Number(
		(await store
			.loadValue?.(readKey(siteId, next.chatId))
			.catch(() => undefined)) ?? 0
	);
	for (const message of next.messages) place(message);
	for (const item of next.pending) pendingBubble(item.id, item.content);
	noteStatus();
	show("chat");
	if (resumed && next.status !== "ended") {
		// A token the server no longer takes would otherwise leave the chat polling 401s forever.
		const refused = await next.poll().then(
			() => undefined,
			(error: unknown) => error
		);
		if (
			refused instanceof LiveChatError &&
			(refused.status === 401 || refused.type === "invalid_chat_state")
		)
			return void (await freshChat(
				next,
				"Your earlier chat could not be continued, so a new one has started."
			));
	}
	if (next.status !== "ended") void next.connect();
	if (next.pending.length > 0) flushSoon(0);
	countUnread();
}

function onEvent(event: ChatEvent): void {
	if (!client) return;
	switch (event.type) {
		case "messages":
			for (const message of event.messages) place(message, true);
			if (event.messages.some((m) => m.type !== 1)) typingView.hidden = true;
			if (client.pending.length === 0 && errorBox.dataset.kind === "send")
				clearError();
			countUnread();
			markSeen();
			return;
		case "status":
		case "ended":
			noteStatus();
			show("chat");
			return;
		case "typing":
			if (event.role !== "agent") return;
			typingView.textContent = event.on
				? `${nameOf(event.senderId) ?? "The agent"} is typing…`
				: "";
			typingView.hidden = !event.on;
			return;
		case "read":
			if (event.role !== "agent") return;
			for (const m of client.messages)
				if (m.type === 1 && m.dataOffset <= event.visitorDataOffset)
					setState(m.id, "Read");
			return;
		case "storage":
			if (!event.saved)
				showError(
					"This browser cannot save the chat right now: keep this page open until your messages are sent.",
					"storage"
				);
			else if (errorBox.dataset.kind === "storage") clearError();
			return;
	}
}

function noteStatus(): void {
	const status = client?.status;
	const position = client?.queuePosition;
	notice.textContent =
		status === "waiting"
			? `Waiting for an agent${position ? `: you are number ${position} in the queue` : "…"}`
			: status === "ended"
				? "This chat has ended."
				: "";
	if (status === "ended") {
		typingView.hidden = true;
		client?.disconnect();
		buildRating();
	}
}

function nameOf(senderId: string): string | undefined {
	return client?.messages
		.filter((m) => m.senderId === senderId && m.senderName)
		.pop()?.senderName;
}

// ——— messages ———

/** Puts a message in the log where it belongs (display order), or updates its element (a pending one now sent). */
function place(message: ChatMessage, fresh = false): void {
	const existing = bubbles.get(message.id);
	if (existing) {
		existing.classList.remove("pending");
		setState(message.id, "Sent");
		const meta = existing.querySelector(".meta");
		meta?.querySelector("time")?.remove();
		meta?.prepend(timeOf(message.sendTime));
		return;
	}
	const kind =
		message.type === 1 ? "visitor" : message.type === 4 ? "system" : "agent";
	const element = bubble({
		kind,
		text: message.content,
		name:
			message.type === 1 || message.type === 4
				? undefined
				: (message.senderName ?? "Agent"),
		time: message.sendTime,
		state: message.type === 1 ? "Sent" : undefined,
	});
	bubbles.set(message.id, element);
	const all = client!.messages;
	const after = all
		.slice(all.findIndex((m) => m.id === message.id) + 1)
		.find(
			(m) =>
				bubbles.has(m.id) && !bubbles.get(m.id)!.classList.contains("pending")
		);
	const firstPending = logView.querySelector(".pending");
	logView.insertBefore(element, after ? bubbles.get(after.id)! : firstPending);
	if (fresh && message.type !== 1)
		announce(
			message.type === 4
				? message.content
				: `${message.senderName ?? "Agent"} says: ${message.content}`
		);
	scrollDown();
}

function pendingBubble(id: string, content: string): void {
	if (bubbles.has(id)) return;
	const element = bubble({
		kind: "visitor pending",
		text: content,
		state: "Sending…",
	});
	bubbles.set(id, element);
	logView.append(element);
	scrollDown();
}

function setState(id: string, state: string): void {
	const el = bubbles.get(id)?.querySelector(".state");
	if (el) el.textContent = state;
}

function bubble(m: {
	kind: string;
	text: string;
	name?: string;
	time?: number;
	state?: string;
}): HTMLElement {
	const div = document.createElement("div");
	div.className = `msg ${m.kind}`;
	if (m.name)
		div.append(
			Object.assign(document.createElement("span"), {
				className: "who",
				textContent: m.name,
			})
		);
	const text = document.createElement("p");
	linkify(text, m.text);
	div.append(text);
	const meta = document.createElement("span");
	meta.className = "meta";
	if (m.time) meta.append(timeOf(m.time));
	if (m.state !== undefined)
		meta.append(
			Object.assign(document.createElement("span"), {
				className: "state",
				textContent: m.state,
			})
		);
	if (meta.childNodes.length > 0) div.append(meta);
	return div;
}

const timeOf = (sendTime: number) => {
	const time = document.createElement("time");
	time.dateTime = new Date(sendTime).toISOString();
	time.textContent = new Date(sendTime).toLocaleTimeString([], {
		hour: "2-digit",
		minute: "2-digit",
	});
	return time;
};

/** Links made clickable from text nodes only: nothing in a message is ever parsed as HTML. */
function linkify(parent: HTMLElement, text: string): void {
	let last = 0;
	for (const match of text.matchAll(/\bhttps?:\/\/[^\s<>"']+/g)) {
		const url = match[0].replace(/[.,;:!?)\]]+$/, "");
		parent.append(text.slice(last, match.index));
		const a = document.createElement("a");
		a.href = url;
		a.textContent = url;
		a.target = "_blank";
		a.rel = "noopener noreferrer nofollow";
		parent.append(a);
		last = match.index + url.length;
	}
	parent.append(text.slice(last));
}

function announce(text: string): void {
	const line = document.createElement("p");
	line.textContent = text;
	announcer.append(line);
	while (announcer.childElementCount > 5) announcer.firstElementChild!.remove();
}

function scrollDown(): void {
	logView.scrollTop = logView.scrollHeight;
}

// ——— unread and read receipts ———

function countUnread(): void {
	const unread = client
		? client.messages.filter(
				(m) => (m.type === 2 || m.type === 3) && m.dataOffset > readOffset
			).length
		: 0;
	ctx!.setUnread(
		controller.isOpen && document.visibilityState === "visible" ? 0 : unread
	);
}

/** The visitor sees the log: everything up to here is read, and the agent is told (a read receipt). */
function markSeen(): void {
	if (!client || !controller.isOpen || document.visibilityState !== "visible")
		return;
	const seen = client.offsets.agentDataOffset;
	ctx!.setUnread(0);
	if (seen <= readOffset) return;
	readOffset = seen;
	void store
		.saveValue?.(readKey(siteId, client.chatId), String(seen))
		.catch(() => undefined);
	client.markRead();
}
document.addEventListener("visibilitychange", () =>
	document.visibilityState === "visible" ? markSeen() : countUnread()
);

// ——— sending ———

let typingOn = false;
let typingTimer: ReturnType<typeof setTimeout> | undefined;
function typing(on: boolean): void {
	clearTimeout(typingTimer);
	if (on) typingTimer = setTimeout(() => typing(false), 3000);
	if (on === typingOn) return;
	typingOn = on;
	client?.typing(on);
}
textarea.addEventListener("input", () =>
	typing(textarea.value.trim().length > 0)
);
textarea.addEventListener("keydown", (event) => {
	if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
		event.preventDefault();
		compose.requestSubmit();
	}
});
compose.addEventListener("submit", (event) => {
	event.preventDefault();
	const content = textarea.value.trim();
	if (!content || !client) return;
	textarea.value = "";
	typing(false);
	send(content);
});

function send(content: string): void {
	const chat = client!;
	const id = crypto.randomUUID();
	pendingBubble(id, content);
	chat.send(content, id).then(
		(message) => {
			place(message);
			if (chat.pending.length === 0 && errorBox.dataset.kind === "send")
				clearError();
		},
		(error: unknown) => sendFailed(chat, error, id, content)
	);
}

let retryDelay = 1000;
let retryTimer: ReturnType<typeof setTimeout> | undefined;
/**
 * The outbox again after `delay` (the server's Retry-After, when it said), else backing off; a
 * success resets the pace.
 */
function flushSoon(delay?: number): void {
	clearTimeout(retryTimer);
	const chat = client;
	retryTimer = setTimeout(() => {
		if (!chat || chat !== client) return;
		chat.flush().then(
			() => {
				retryDelay = 1000;
				for (const m of chat.messages)
					if (bubbles.get(m.id)?.classList.contains("pending")) place(m);
				if (errorBox.dataset.kind === "send") clearError();
			},
			(error: unknown) => sendFailed(chat, error)
		);
	}, delay ?? retryDelay);
	if (delay === undefined) retryDelay = Math.min(30_000, retryDelay * 2);
}
window.addEventListener("online", () => flushSoon(0));

async function sendFailed(
	chat: LiveChatClient,
	error: unknown,
	id?: string,
	content?: string
): Promise<void> {
	if (chat !== client) return;
	if (error instanceof LiveChatError && error.status === 401)
		return void (await freshChat(
			chat,
			"Your chat had expired, so a new one has started. Your messages were kept."
		));
	const refused =
		error instanceof LiveChatError &&
		[400, 403, 409, 413].includes(error.status);
	if (refused && id) {
		bubbles.get(id)?.remove();
		bubbles.delete(id);
		if (error.type === "chat_ended") {
			carryOver = content ?? "";
			noteStatus();
			show("chat");
			return;
		}
		textarea.value ||= content ?? "";
	}
	showError(human(error, "send"), "send");
	// A rate limit says when the message can go: try then, not every few seconds before it.
	if (!refused)
		flushSoon(
			error instanceof LiveChatError && error.retryAfter !== undefined
				? error.retryAfter * 1000 + 250
				: undefined
		);
}

/**
 * The chat cannot go on (its token is refused): a new chat for the same visitor, with the messages
 * not yet sent, and the old one closed in the store so that it is pruned in time.
 */
async function freshChat(old: LiveChatClient, why: string): Promise<void> {
	old.disconnect();
	const carried = old.pending.map((m) => m.content);
	const key = chatKey(siteId, old.chatId);
	const snapshot = await store.load(key).catch(() => undefined);
	if (snapshot)
		await store
			.save(key, { ...snapshot, outbox: [], displaced: [], status: "ended" })
			.catch(() => undefined);
	if (await startChat(await knownIdentity(), undefined, undefined, carried))
		logView.prepend(bubble({ kind: "system", text: why }));
}

// ——— the end ———

endButton.addEventListener("click", async () => {
	const chat = client;
	if (!chat) return;
	try {
		await chat.end();
		noteStatus();
		show("chat");
		focusFirst();
	} catch (error) {
		showError(human(error, "end"));
	}
});

const ratingBox = $<HTMLElement>(".rating");
const ratingParts = Array.from(ratingBox.children);
const stars = $<HTMLElement>(".stars");

function buildRating(): void {
	const box = ratingBox;
	box.hidden = !config.rating;
	if (stars.childElementCount > 0 || !config.rating) return;
	for (let n = 1; n <= 5; n++) {
		const button = document.createElement("button");
		button.type = "button";
		button.textContent = "★";
		button.setAttribute("aria-label", `${n} out of 5`);
		button.addEventListener("click", async () => {
			try {
				await client!.rate(n);
				box.replaceChildren(
					Object.assign(document.createElement("p"), {
						textContent: "Thank you for your feedback!",
					})
				);
				notice.textContent = "Thank you for your feedback!";
				ended.querySelector<HTMLElement>(".restart")!.focus();
			} catch (error) {
				showError(human(error, "rate"));
			}
		});
		stars.append(button);
	}
}

$<HTMLButtonElement>(".restart").addEventListener("click", async () => {
	await store.saveValue?.(currentChatKey(siteId), "").catch(() => undefined);
	stars.replaceChildren();
	ratingBox.replaceChildren(...ratingParts);
	await offerNewChat();
	textarea.value = carryOver;
	carryOver = "";
	focusFirst();
});

// ——— errors, in words a visitor understands ———

function human(
	error: unknown,
	doing: "start" | "send" | "offline" | "end" | "rate"
): string {
	if (error instanceof LiveChatError) {
		if (error.type === "rate_limited")
			return doing === "send"
				? "You are sending messages quickly: yours will go out in a moment."
				: "Too many tries from your network: please wait a minute and try again.";
		if (error.type === "banned")
			return "Sorry, you cannot chat with us right now.";
		if (error.type === "payload_too_large")
			return "That message is too long to send.";
		if (error.type === "chat_ended") return "This chat has ended.";
		if (error.status === 400)
			return doing === "offline"
				? "Please check your email address and message."
				: "Please check what you entered.";
	} else if (
		!navigator.onLine ||
		error instanceof Unreachable ||
		error instanceof TypeError
	) {
		return doing === "send"
			? "You seem to be offline: your message will be sent when the connection is back."
			: "We cannot reach the chat service. Check your connection and try again.";
	}
	return doing === "send"
		? "Your message is not sent yet: we will keep trying."
		: "Something went wrong. Please try again.";
}

function showError(text: string, kind = "other"): void {
	errorBox.textContent = text;
	errorBox.dataset.kind = kind;
}

function clearError(): void {
	errorBox.textContent = "";
	delete errorBox.dataset.kind;
}
