/**
 * The chat window's log: one element per message id, updated in place and kept in display order,
 * replies announced once in a polite live region; the unread count and read receipts.
 */
import { MessageType } from "../src/protocol/offsets.ts";
import { noteStatus } from "./chat-window-forms.ts";
import {
	announcer,
	clearError,
	ctx,
	errorBox,
	logView,
	panel,
	show,
	showError,
	siteId,
	typingView,
} from "./chat-window-panel.ts";
import { state } from "./chat-window-state.ts";
import { readKey } from "./widget-shared.ts";
import type { ChatEvent } from "../client/live-chat-client.ts";
import type { ChatMessage } from "../src/protocol/chat.ts";

export const bubbles = new Map<string, HTMLElement>();

export function onEvent(event: ChatEvent): void {
	if (!state.client) return;
	switch (event.type) {
		case "messages":
			for (const message of event.messages) place(message, true);
			if (event.messages.some((m) => m.type !== MessageType.Visitor))
				typingView.hidden = true;
			if (state.client.pending.length === 0 && errorBox.dataset.kind === "send")
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
			for (const m of state.client.messages)
				if (
					m.type === MessageType.Visitor &&
					m.dataOffset <= event.visitorDataOffset
				)
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

function nameOf(senderId: string): string | undefined {
	return state.client?.messages
		.filter((m) => m.senderId === senderId && m.senderName)
		.pop()?.senderName;
}

/** Puts a message in the log where it belongs (display order), or updates its element (a pending one now sent). */
export function place(message: ChatMessage, fresh = false): void {
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
		message.type === MessageType.Visitor
			? "visitor"
			: message.type === MessageType.System
				? "system"
				: "agent";
	const element = bubble({
		kind,
		text: message.content,
		name:
			message.type === MessageType.Visitor ||
			message.type === MessageType.System
				? undefined
				: (message.senderName ?? "Agent"),
		time: message.sendTime,
		state: message.type === MessageType.Visitor ? "Sent" : undefined,
	});
	bubbles.set(message.id, element);
	const all = state.client!.messages;
	const after = all
		.slice(all.findIndex((m) => m.id === message.id) + 1)
		.find(
			(m) =>
				bubbles.has(m.id) && !bubbles.get(m.id)!.classList.contains("pending")
		);
	const firstPending = logView.querySelector(".pending");
	logView.insertBefore(element, after ? bubbles.get(after.id)! : firstPending);
	if (fresh && message.type !== MessageType.Visitor)
		announce(
			message.type === MessageType.System
				? message.content
				: `${message.senderName ?? "Agent"} says: ${message.content}`
		);
	scrollDown();
}

export function pendingBubble(id: string, content: string): void {
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

export function setState(id: string, state: string): void {
	const el = bubbles.get(id)?.querySelector(".state");
	if (el) el.textContent = state;
}

export function bubble(m: {
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

export function countUnread(): void {
	const unread = state.client
		? state.client.messages.filter(
				(m) =>
					(m.type === MessageType.Agent || m.type === MessageType.Bot) &&
					m.dataOffset > state.readOffset
			).length
		: 0;
	ctx!.setUnread(
		!panel.hidden && document.visibilityState === "visible" ? 0 : unread
	);
}

/** The visitor sees the log: everything up to here is read, and the agent is told (a read receipt). */
export function markSeen(): void {
	if (!state.client || !!panel.hidden || document.visibilityState !== "visible")
		return;
	const seen = state.client.offsets.agentDataOffset;
	ctx!.setUnread(0);
	if (seen <= state.readOffset) return;
	state.readOffset = seen;
	void state.store
		.saveValue?.(readKey(siteId, state.client.chatId), String(seen))
		.catch(() => undefined);
	state.client.markRead();
}
document.addEventListener("visibilitychange", () =>
	document.visibilityState === "visible" ? markSeen() : countUnread()
);
