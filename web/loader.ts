/**
 * The widget's loader, `<script src="https://…/livechat.js" data-site-id="…"></script>` (SPEC §9):
 * on every page view it draws the launcher, records the visit and listens for invitations (the page
 * socket), and while a chat is open keeps that chat's socket so that a reply is noticed (unread
 * badge, title flash) on every page. The chat window (livechat-window.js) is fetched only when the
 * visitor opens the chat or something arrives in it. Kept small (SPEC §11: ≤ 10 KB gzipped): no
 * SDK, no zod; frames are read by hand and anything unexpected simply brings in the window.
 * Optional: `data-failover-url` for a secondary deployment. With `data-full-page` (the `/chat` page,
 * SPEC §4: direct links) the site comes from `?site=`, there is no launcher, and the chat window
 * fills the page, open from the start.
 */
import { openChatDb } from "./idb-store.ts";
import { watchOpenChat } from "./loader-chat-socket.ts";
import { visit } from "./loader-visit.ts";
import { CONTEXT_GLOBAL, DEFAULT_COLOR, textOn } from "./widget-shared.ts";
import type { WidgetConfig } from "../src/protocol/site-config.ts";
import type { LoaderContext, VisitorIdentity } from "./widget-shared.ts";

const script = document.currentScript as HTMLScriptElement | null;
const fullPage = script?.hasAttribute("data-full-page") ?? false;
const siteId =
	script?.dataset.siteId ??
	(fullPage ? (new URLSearchParams(location.search).get("site") ?? "") : "");
if (!script || !/^[A-Za-z0-9_-]{1,64}$/.test(siteId))
	throw new Error(
		fullPage
			? "the chat page needs ?site=<siteId>"
			: "livechat.js needs data-site-id"
	);
const baseUrl = script.dataset.baseUrl ?? new URL(script.src).origin;
const baseUrls = [
	baseUrl,
	...(script.dataset.failoverUrl ? [script.dataset.failoverUrl] : []),
];
const siteUrl = `${baseUrl}/v1/sites/${siteId}`;
const wsUrl = siteUrl.replace(/^http/, "ws");

const defaults: WidgetConfig = {
	prechat: { fields: [] },
	offlineForm: true,
	rating: true,
};
const config: Promise<WidgetConfig> = fetch(`${siteUrl}/widget-config`)
	.then((r) => (r.ok ? r.json() : defaults))
	.then(
		(c: WidgetConfig) => ({ ...defaults, ...c }),
		() => defaults
	);
const db = openChatDb().catch(() => undefined);

const host = document.createElement("div");
host.id = "livechat-widget";
const root = host.attachShadow({ mode: "open" });
root.innerHTML = `<style>
:host{all:initial;font:16px/1.4 system-ui,sans-serif;--lc:${DEFAULT_COLOR};--lc-text:#fff}
[hidden]{display:none!important}
.launcher{position:fixed;right:20px;bottom:20px;z-index:2147483000;border:0;border-radius:26px;padding:13px 20px;background:var(--lc);color:var(--lc-text);font:600 16px system-ui,sans-serif;cursor:pointer;box-shadow:0 4px 14px #0004}
.launcher:focus-visible{outline:3px solid #111;outline-offset:3px}
.badge{display:inline-block;min-width:20px;margin-left:8px;padding:1px 6px;border-radius:10px;background:#b00020;color:#fff;font-size:13px;text-align:center}
.invite{position:fixed;right:20px;bottom:80px;z-index:2147483000;width:280px;padding:12px 14px;background:#fff;color:#111;border-radius:10px;box-shadow:0 6px 24px #0004;font:15px/1.4 system-ui,sans-serif}
.invite p{margin:4px 0 10px;white-space:pre-wrap}
.invite button{font:inherit;border:0;border-radius:6px;padding:6px 12px;cursor:pointer}
.invite .reply{background:var(--lc);color:var(--lc-text)}
.invite .dismiss{background:#eee;color:#111;margin-left:6px}
</style>
<button class="launcher" type="button" aria-expanded="false" aria-haspopup="dialog"><span class="label">Chat with us</span><span class="badge" hidden></span></button>
<div class="invite" role="status" hidden><strong class="agent"></strong><p class="text"></p><button class="reply" type="button">Reply</button><button class="dismiss" type="button">Not now</button></div>`;
document.body.append(host);

const $ = <T extends Element>(selector: string) =>
	root.querySelector(selector) as T;
const launcher = $<HTMLButtonElement>(".launcher");
const badge = $<HTMLElement>(".badge");
const invite = $<HTMLElement>(".invite");
const identity: VisitorIdentity = {};
void config.then((c) => {
	if (c.color) {
		host.style.setProperty("--lc", c.color);
		host.style.setProperty("--lc-text", textOn(c.color));
	}
});

/** A short chime as the unread count grows; browsers allow it once the visitor has used the page, and it is skipped otherwise. */
let chimedAt = 0;
let audio: AudioContext | undefined;
function chime(): void {
	try {
		audio ??= new AudioContext();
		const tone = audio.createOscillator();
		const volume = audio.createGain();
		tone.frequency.value = 880;
		volume.gain.value = 0.08;
		tone.connect(volume).connect(audio.destination);
		tone.start();
		tone.stop(audio.currentTime + 0.15);
	} catch {
		// no audio on this page
	}
}

/** The title flash: the page's own title and a notice, alternately, while replies are unread. */
const pageTitle = document.title;
let flash: ReturnType<typeof setInterval> | undefined;
function setUnread(count: number): void {
	if (count > chimedAt) chime();
	chimedAt = count;
	badge.hidden = count === 0;
	badge.textContent = String(count);
	launcher.setAttribute(
		"aria-label",
		count === 0
			? "Chat with us"
			: `Chat with us, ${count} unread ${count === 1 ? "message" : "messages"}`
	);
	clearInterval(flash);
	flash = undefined;
	document.title = pageTitle;
	if (count > 0) {
		let on = false;
		flash = setInterval(
			() =>
				(document.title = (on = !on) ? `(${count}) New message` : pageTitle),
			1200
		);
	}
}

const context: LoaderContext = {
	siteId,
	baseUrls,
	root,
	launcher,
	config,
	identity,
	db,
	fullPage,
	setUnread,
	releaseSocket: () => releaseSocket(),
};
(window as unknown as Record<string, unknown>)[CONTEXT_GLOBAL] = context;

/** The chat window: its script is added once, on the first need. */
let windowLoading: Promise<void> | undefined;
function loadWindow(): Promise<void> {
	windowLoading ??= new Promise<void>((resolve, reject) => {
		const tag = document.createElement("script");
		tag.src = new URL("livechat-window.js", script!.src).href;
		tag.async = true;
		tag.onload = () =>
			context.window
				? resolve()
				: reject(new Error("the chat window did not start"));
		tag.onerror = () => {
			windowLoading = undefined;
			reject(new Error("the chat window could not be loaded"));
		};
		document.head.append(tag);
	});
	return windowLoading;
}

async function open(): Promise<void> {
	invite.hidden = true;
	launcher.setAttribute("aria-busy", "true");
	try {
		await loadWindow();
		context.window!.open();
	} catch {
		launcher.querySelector(".label")!.textContent =
			"Chat unavailable, try again";
	} finally {
		launcher.removeAttribute("aria-busy");
	}
}

launcher.addEventListener("click", () => {
	if (context.window?.isOpen) context.window.close();
	else void open();
});
if (fullPage) {
	launcher.hidden = true;
	void open();
}

const releaseSocket = watchOpenChat(siteId, wsUrl, db, setUnread, () =>
	loadWindow().catch(() => undefined)
);
const visitorState = visit(siteId, siteUrl, db, (agentName, message) => {
	if (context.window) return context.window.invite(agentName, message);
	$(".agent").textContent = agentName ? `${agentName}:` : "";
	$(".text").textContent = message;
	invite.hidden = false;
	$<HTMLElement>(".reply").onclick = () =>
		void open().then(() => context.window?.invite(agentName, message));
});

$<HTMLElement>(".dismiss").onclick = () => {
	invite.hidden = true;
	launcher.focus();
};

/** The page's API (SPEC §9). */
(window as unknown as { LiveChat: unknown }).LiveChat = {
	open: () => open(),
	close: () => context.window?.close(),
	/** Who the visitor is, when the page knows (a signed-in customer): fills the prechat form and the chat start. */
	identify(visitor: VisitorIdentity) {
		if (typeof visitor?.name === "string")
			identity.name = visitor.name.slice(0, 200);
		if (typeof visitor?.email === "string")
			identity.email = visitor.email.slice(0, 320);
		context.window?.identified();
	},
	/** A goal reached on the page (a purchase, a sign-up): `conversion.log` (SPEC §4). */
	async conversion(name: string, value?: number) {
		const state = await visitorState;
		if (!state) return false;
		const response = await fetch(`${siteUrl}/conversions`, {
			method: "POST",
			headers: { "Content-Type": "application/json" },
			body: JSON.stringify({
				visitorState: state,
				name,
				...(typeof value === "number" ? { value } : {}),
			}),
		}).catch(() => undefined);
		return response?.ok ?? false;
	},
};
