/**
 * What the loader (livechat.js, on every page view) hands the chat window (livechat-window.js,
 * fetched when the visitor opens the chat or a message arrives). Types and tiny helpers only: both
 * bundles include this file.
 */
import type { WidgetConfig } from "../src/protocol/site-config.ts";

/** A type, not an interface: it goes where the SDK takes a record of visitor fields. */
export type VisitorIdentity = {
	name?: string;
	email?: string;
};

export interface LoaderContext {
	siteId: string;
	baseUrls: string[];
	/** The widget's shadow root: the window draws its panel here. */
	root: ShadowRoot;
	launcher: HTMLButtonElement;
	/** The site's widget config, or defaults when it cannot be read. */
	config: Promise<WidgetConfig>;
	/** Set by LiveChat.identify(): fills the prechat form and the chat start. */
	identity: VisitorIdentity;
	/** IndexedDB, or undefined where the browser has none (some private modes). */
	db: Promise<IDBDatabase | undefined>;
	/** The `/chat` page: the window fills the page and stays open (no launcher to come back to). */
	fullPage: boolean;
	/** The badge on the launcher and the title flash; 0 clears both. */
	setUnread(count: number): void;
	/** The loader stops watching the chat's socket: the window's client keeps its own. */
	releaseSocket(): void;
	/** Set by the window once it is mounted. */
	window?: ChatWindow;
}

export interface ChatWindow {
	open(): void;
	close(): void;
	readonly isOpen: boolean;
	/** An invitation from an agent (the page socket): shown as its first message. */
	invite(agentName: string, message: string): void;
	/** LiveChat.identify() was called: the forms on screen take the page's name and email. */
	identified(): void;
}

/** Where the current chat's id is kept (IndexedDB `values`). */
export const currentChatKey = (siteId: string) => `current:${siteId}`;
export const visitorStateKey = (siteId: string) => `visitorState:${siteId}`;
/** How the LiveChatClient keys a chat in its store. */
export const chatKey = (siteId: string, chatId: string) =>
	`${siteId}/${chatId}`;
/** The highest agent-stream offset the visitor has seen, per chat. */
export const readKey = (siteId: string, chatId: string) =>
	`read:${siteId}/${chatId}`;
/** The highest visitor-stream offset an agent has read (its read receipt), per chat: "Read" after a reload. */
export const agentReadKey = (siteId: string, chatId: string) =>
	`agentRead:${siteId}/${chatId}`;

/** The global the window script reads its context from (set by the loader before it loads the window). */
export const CONTEXT_GLOBAL = "__liveChatContext";

export const DEFAULT_COLOR = "#2453d4";

/** Black or white text, whichever reads better on `hex` (WCAG relative luminance). */
export function textOn(hex: string): string {
	const [r, g, b] = [1, 3, 5].map((i) => {
		const c = parseInt(hex.slice(i, i + 2), 16) / 255;
		return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
	});
	const luminance = 0.2126 * r! + 0.7152 * g! + 0.0722 * b!;
	return 1.05 / (luminance + 0.05) >= (luminance + 0.05) / 0.05
		? "#fff"
		: "#111";
}
