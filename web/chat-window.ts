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
 *
 * This file opens, resumes, starts and ends chats; the rest of the window is in chat-window-panel
 * (markup, views, words), -state, -log (messages, unread), -forms (prechat, offline, rating) and
 * -send (compose, outbox retries).
 */
import { LiveChatClient, LiveChatError } from "../client/live-chat-client.ts";
import {
	buildPrechatFields,
	fillIdentity,
	identityKey,
	invalid,
	knownIdentity,
	noteStatus,
	offerNewChat,
	recheckAvailability,
	showInvitation,
} from "./chat-window-forms.ts";
import {
	bubble,
	bubbles,
	countUnread,
	markSeen,
	onEvent,
	pendingBubble,
	place,
	scrollDown,
} from "./chat-window-log.ts";
import {
	$,
	baseUrls,
	clearError,
	ctx,
	endButton,
	focusFirst,
	greeting,
	human,
	launcher,
	logView,
	offline,
	panel,
	prechat,
	ratingBox,
	ratingParts,
	show,
	showError,
	siteId,
	stars,
	textarea,
} from "./chat-window-panel.ts";
import { flushSoon, onTokenRefused, send } from "./chat-window-send.ts";
import { state } from "./chat-window-state.ts";
import { IndexedDbStore } from "./idb-store.ts";
import {
	agentReadKey,
	chatKey,
	currentChatKey,
	readKey,
} from "./widget-shared.ts";
import type { ChatWindow, VisitorIdentity } from "./widget-shared.ts";

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
			// While the panel was hidden nothing could scroll: the newest message shows now.
			scrollDown();
			markSeen();
			void recheckAvailability();
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
		state.invitation = { agentName, message };
		if (!state.client || state.client.status === "ended") showInvitation();
		controller.open();
	},
	identified() {
		for (const form of [prechat, offline]) fillIdentity(form, true);
	},
};
ctx.window = controller;

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
	if (db) state.store = new IndexedDbStore(db);
	state.config = await ctx!.config;
	if (state.config.title) $("#lc-title").textContent = state.config.title;
	if (state.config.greeting) greeting.textContent = state.config.greeting;
	buildPrechatFields();
	const chatId = await state.store
		.loadValue?.(currentChatKey(siteId))
		.catch(() => undefined);
	const resumed = chatId
		? await LiveChatClient.resume({
				baseUrls,
				siteId,
				chatId,
				store: state.store,
				onEvent,
			}).catch(() => undefined)
		: undefined;
	if (resumed) await attach(resumed, true);
	else await offerNewChat();
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
	await state.store
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
			store: state.store,
			visitor,
			prechat: prechatFields,
			department,
			onEvent,
		});
		await state.store
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

// ——— an open chat ———

async function attach(next: LiveChatClient, resumed: boolean): Promise<void> {
	state.client?.disconnect();
	state.client = next;
	bubbles.clear();
	logView.replaceChildren();
	if (state.config.greeting)
		logView.append(
			bubble({
				kind: "agent greeting",
				text: state.config.greeting,
				name: state.config.title,
			})
		);
	if (state.invitation && !resumed)
		logView.append(
			bubble({
				kind: "agent greeting",
				text: state.invitation.message,
				name: state.invitation.agentName,
			})
		);
	state.invitation = undefined;
	const stored = (key: string) =>
		state.store
			.loadValue?.(key)
			.then(Number)
			.catch(() => 0) ?? Promise.resolve(0);
	state.readOffset = (await stored(readKey(siteId, next.chatId))) || 0;
	state.agentReadOffset =
		(await stored(agentReadKey(siteId, next.chatId))) || 0;
	for (const message of next.messages) place(message);
	for (const item of next.pending) pendingBubble(item.id, item.content);
	noteStatus();
	show("chat");
	scrollDown();
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

/**
 * The chat cannot go on (its token is refused): a new chat for the same visitor, with the messages
 * not yet sent, and the old one closed in the store so that it is pruned in time.
 */
async function freshChat(old: LiveChatClient, why: string): Promise<void> {
	old.disconnect();
	const carried = old.pending.map((m) => m.content);
	const key = chatKey(siteId, old.chatId);
	const snapshot = await state.store.load(key).catch(() => undefined);
	if (snapshot)
		await state.store
			.save(key, { ...snapshot, outbox: [], displaced: [], status: "ended" })
			.catch(() => undefined);
	if (await startChat(await knownIdentity(), undefined, undefined, carried))
		logView.prepend(bubble({ kind: "system", text: why }));
}

onTokenRefused(freshChat);

// ——— the end ———

endButton.addEventListener("click", async () => {
	const chat = state.client;
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

$<HTMLButtonElement>(".restart").addEventListener("click", async () => {
	await state.store
		.saveValue?.(currentChatKey(siteId), "")
		.catch(() => undefined);
	stars.replaceChildren();
	ratingBox.replaceChildren(...ratingParts);
	await offerNewChat();
	textarea.value = state.carryOver;
	state.carryOver = "";
	focusFirst();
});
