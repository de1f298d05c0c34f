/**
 * The chat window's panel in the loader's Shadow DOM: its markup, the elements the window works
 * with, which view shows, and errors said in words a visitor understands.
 */
import { LiveChatError } from "../client/live-chat-client.ts";
import { Unreachable } from "../client/transport.ts";
import { MessageType } from "../src/protocol/offsets.ts";
import { state } from "./chat-window-state.ts";
import { STYLE } from "./chat-window-style.ts";
import { CONTEXT_GLOBAL } from "./widget-shared.ts";
import type { LoaderContext } from "./widget-shared.ts";

const found = (window as unknown as Record<string, LoaderContext | undefined>)[
	CONTEXT_GLOBAL
];
if (!found) throw new Error("livechat-window.js is loaded by livechat.js");
export const ctx: LoaderContext = found;
export const { siteId, baseUrls, root, launcher } = ctx;
ctx.releaseSocket();

export const panel = document.createElement("section");
panel.className = "panel";
panel.hidden = true;
panel.setAttribute("role", "dialog");
panel.setAttribute("aria-labelledby", "lc-title");
panel.innerHTML = `<style>${STYLE}</style>
<header><h2 id="lc-title">Chat with us</h2><button class="end" type="button" hidden>End chat</button><button class="close" type="button" aria-label="Close chat">✕</button></header>
<div class="notice" role="status"></div>
<div class="network" role="status"></div>
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
    <p class="ended-line"><strong>This chat has ended.</strong></p>
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

export const $ = <T extends Element>(selector: string) =>
	panel.querySelector(selector) as T;
export const notice = $<HTMLElement>(".notice");
export const errorBox = $<HTMLElement>(".error");
export const greeting = $<HTMLElement>(".greeting");
export const prechat = $<HTMLFormElement>(".prechat");
export const offline = $<HTMLFormElement>(".offline");
export const logView = $<HTMLElement>(".log");
export const ended = $<HTMLElement>(".ended");
export const compose = $<HTMLFormElement>(".compose");
export const textarea = compose.elements.namedItem(
	"content"
) as HTMLTextAreaElement;
export const typingView = $<HTMLElement>(".typing");
export const announcer = $<HTMLElement>(".announcer");
export const endButton = $<HTMLButtonElement>(".end");
export const networkNotice = $<HTMLElement>(".network");
const endedLine = $<HTMLElement>(".ended-line");

export const ratingBox = $<HTMLElement>(".rating");
export const ratingParts = Array.from(ratingBox.children);
export const stars = $<HTMLElement>(".stars");

export type View = "loading" | "prechat" | "offline" | "chat";
export function show(view: View): void {
	prechat.hidden = view !== "prechat";
	offline.hidden = view !== "offline";
	logView.hidden = view !== "chat";
	greeting.hidden = view !== "prechat" || !greeting.textContent;
	const over = view === "chat" && state.client?.status === "ended";
	compose.hidden = view !== "chat" || over;
	ended.hidden = !over;
	// Said once: by the room's own notice at the end of the log when the copy has it, else here.
	endedLine.hidden = state.client?.messages.at(-1)?.type === MessageType.System;
	endButton.hidden = view !== "chat" || over;
	if (view !== "chat") typingView.hidden = true;
}

/** Focus goes into the panel, to what the visitor does next there. */
export function focusFirst(): void {
	const target =
		[prechat, offline, compose]
			.find((f) => !f.hidden)
			?.querySelector<HTMLElement>("input, textarea") ??
		(!ended.hidden ? ended.querySelector<HTMLElement>("button") : null);
	(target ?? $<HTMLElement>(".close")).focus();
}

/** Errors in words a visitor understands. */
export function human(
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

export function showError(text: string, kind = "other"): void {
	errorBox.textContent = text;
	errorBox.dataset.kind = kind;
}

export function clearError(): void {
	errorBox.textContent = "";
	delete errorBox.dataset.kind;
}
