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
import { LINK_REL, LINK_TARGET, linkParts } from "./link-parts.ts";
import { agentReadKey, readKey } from "./widget-shared.ts";
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
			// An end brings the rating and "Start a new chat" below the log: in view.
			if (state.client.status === "ended") scrollDown();
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
			agentRead(event.visitorDataOffset);
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
		setState(message.id, receiptOf(message));
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
		state: receiptOf(message),
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
	const following = atBottom();
	logView.insertBefore(element, after ? bubbles.get(after.id)! : firstPending);
	if (fresh && message.type !== MessageType.Visitor)
		announce(
			message.type === MessageType.System
				? message.content
				: `${message.senderName ?? "Agent"} says: ${message.content}`
		);
	// The visitor's own message always shows; a reply only while the visitor has not scrolled up to read.
	if (following || message.type === MessageType.Visitor) scrollDown();
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

export function setState(id: string, state: string | undefined): void {
	const el = bubbles.get(id)?.querySelector(".state");
	if (el && state) el.textContent = state;
}

/**
 * A visitor's message is "Read" once an agent's read receipt covers it. The receipt is kept (and
 * stored, for a reload): it may come before the message's own ack, which must not undo it.
 */
const receiptOf = (message: ChatMessage) =>
	message.type !== MessageType.Visitor
		? undefined
		: message.dataOffset <= state.agentReadOffset
			? "Read"
			: "Sent";

function agentRead(visitorDataOffset: number): void {
	const client = state.client!;
	if (visitorDataOffset <= state.agentReadOffset) return;
	state.agentReadOffset = visitorDataOffset;
	void state.store
		.saveValue?.(agentReadKey(siteId, client.chatId), String(visitorDataOffset))
		.catch(() => undefined);
	for (const m of client.messages) setState(m.id, receiptOf(m));
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
	for (const part of linkParts(text)) {
		if (!part.href) {
			parent.append(part.text);
			continue;
		}
		const a = document.createElement("a");
		a.href = part.href;
		a.textContent = part.text;
		a.target = LINK_TARGET;
		a.rel = LINK_REL;
		parent.append(a);
	}
}

function announce(text: string): void {
	const line = document.createElement("p");
	line.textContent = text;
	announcer.append(line);
	while (announcer.childElementCount > 5) announcer.firstElementChild!.remove();
}

/** The panel's body scrolls, not the log: the log grows inside it, below the greeting and above the end. */
const scroller = logView.parentElement!;

/** Whether the visitor sees the end of the log (near enough: a few pixels of rounding, a line). */
const atBottom = () =>
	scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 48;

export function scrollDown(): void {
	scroller.scrollTop = scroller.scrollHeight;
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
