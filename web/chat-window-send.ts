/**
 * Sending from the chat window: typing notices, the compose box, and the outbox retried by itself
 * (at the server's Retry-After, else backing off) until the messages are sent.
 */
import { LiveChatError } from "../client/live-chat-client.ts";
import { noteStatus } from "./chat-window-forms.ts";
import { bubbles, pendingBubble, place } from "./chat-window-log.ts";
import {
	clearError,
	compose,
	errorBox,
	human,
	networkNotice,
	show,
	showError,
	textarea,
} from "./chat-window-panel.ts";
import { state } from "./chat-window-state.ts";
import type { LiveChatClient } from "../client/live-chat-client.ts";

/** A chat whose token is refused goes on in a fresh one (chat-window.ts says how). */
let freshChat: (old: LiveChatClient, why: string) => Promise<void> = async () =>
	undefined;
export function onTokenRefused(
	handler: (old: LiveChatClient, why: string) => Promise<void>
): void {
	freshChat = handler;
}

let typingOn = false;
let typingTimer: ReturnType<typeof setTimeout> | undefined;
function typing(on: boolean): void {
	clearTimeout(typingTimer);
	if (on) typingTimer = setTimeout(() => typing(false), 3000);
	if (on === typingOn) return;
	typingOn = on;
	state.client?.typing(on);
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
	if (!content || !state.client) return;
	textarea.value = "";
	typing(false);
	send(content);
});

export function send(content: string): void {
	const chat = state.client!;
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
export function flushSoon(delay?: number): void {
	clearTimeout(retryTimer);
	const chat = state.client;
	retryTimer = setTimeout(() => {
		if (!chat || chat !== state.client) return;
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

/** The network as the browser knows it: said at the top of the panel while it is gone (the socket is down, sends wait). */
function noteNetwork(): void {
	networkNotice.textContent = navigator.onLine
		? ""
		: "You are offline. Reconnecting… Your messages will be sent when the connection is back.";
}
noteNetwork();
window.addEventListener("offline", noteNetwork);
window.addEventListener("online", () => {
	noteNetwork();
	flushSoon(0);
});

async function sendFailed(
	chat: LiveChatClient,
	error: unknown,
	id?: string,
	content?: string
): Promise<void> {
	if (chat !== state.client) return;
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
			state.carryOver = content ?? "";
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
