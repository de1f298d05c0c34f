/**
 * The embeddable widget: `<script src="https://…/livechat.js" data-site-id="…"></script>`.
 * A button and a chat window in a Shadow DOM, on top of LiveChatClient: the local copy and the
 * outbox live in localStorage, so a reload loses nothing and an unsent message is sent afterwards.
 * The store keeps the newest chats only, and writes only what changed. Where the browser cannot
 * store (storage full or disabled) the chat goes on, and the visitor is told that a reload would lose it.
 * Messages arrive over the chat's WebSocket, or by long-poll where WebSockets are blocked.
 * Optional: `data-failover-url` for a secondary deployment.
 */
import { LiveChatClient, LocalStorageStore, MemoryStore, type ChatEvent } from "../client/index.ts";
import type { ChatMessage } from "../src/protocol/chat.ts";

const script = document.currentScript as HTMLScriptElement | null;
const siteId = script?.dataset.siteId ?? "";
if (!script || !siteId) throw new Error("livechat.js needs data-site-id");
const baseUrls = [script.dataset.baseUrl ?? new URL(script.src).origin, ...(script.dataset.failoverUrl ? [script.dataset.failoverUrl] : [])];
/** Storage disabled (some private modes) throws on access: the chat then lives in memory only. */
const storage = (() => {
	try {
		return window.localStorage;
	} catch {
		return undefined;
	}
})();
const store = storage ? new LocalStorageStore(storage) : new MemoryStore();
const currentChatKey = `livechat:current:${siteId}`;
const NOT_SAVED = "This browser cannot store the chat right now: keep this page open until your messages are sent.";

/** Which chat to resume after a reload; a full storage must not fail the chat start that wanted to remember it. */
function rememberChat(chatId: string): void {
	try {
		storage?.setItem(currentChatKey, chatId);
	} catch {
		status.textContent = NOT_SAVED;
	}
}

const host = document.createElement("div");
const root = host.attachShadow({ mode: "open" });
root.innerHTML = `
<style>
  :host { all: initial; font: 14px/1.4 system-ui, sans-serif; }
  [hidden] { display: none !important; }
  .launcher { position: fixed; right: 20px; bottom: 20px; border: 0; border-radius: 24px; padding: 12px 18px; background: #2453d4; color: #fff; font: inherit; cursor: pointer; box-shadow: 0 4px 14px #0003; }
  .panel { position: fixed; right: 20px; bottom: 76px; width: 340px; height: 460px; display: none; flex-direction: column; background: #fff; border-radius: 12px; box-shadow: 0 8px 30px #0004; overflow: hidden; }
  .panel.open { display: flex; }
  header { background: #2453d4; color: #fff; padding: 12px 14px; font-weight: 600; }
  .log { flex: 1; overflow-y: auto; padding: 10px; display: flex; flex-direction: column; gap: 6px; background: #f5f6f8; }
  .msg { max-width: 80%; padding: 7px 10px; border-radius: 10px; white-space: pre-wrap; word-wrap: break-word; }
  .msg.visitor { align-self: flex-end; background: #2453d4; color: #fff; }
  .msg.agent { align-self: flex-start; background: #fff; border: 1px solid #dde; }
  .msg.system { align-self: center; background: none; color: #667; font-size: 12px; }
  .msg.pending { opacity: .55; }
  form { display: flex; gap: 6px; padding: 8px; border-top: 1px solid #eee; }
  form.prechat { flex-direction: column; padding: 14px; border: 0; }
  input, textarea { font: inherit; padding: 7px; border: 1px solid #ccd; border-radius: 6px; }
  textarea { flex: 1; resize: none; height: 38px; }
  button.primary { border: 0; border-radius: 6px; background: #2453d4; color: #fff; padding: 8px 12px; font: inherit; cursor: pointer; }
  .status { font-size: 12px; color: #a33; padding: 0 10px; min-height: 0; }
</style>
<button class="launcher" part="launcher">Chat with us</button>
<section class="panel" role="dialog" aria-label="Live chat">
  <header>How can we help?</header>
  <form class="prechat">
    <label>Your name <input name="name" maxlength="200" required></label>
    <label>Email (optional) <input name="email" type="email" maxlength="320"></label>
    <button class="primary">Start chatting</button>
  </form>
  <div class="log" aria-live="polite" hidden></div>
  <div class="status"></div>
  <form class="compose" hidden>
    <textarea name="content" maxlength="4000" placeholder="Type a message…" aria-label="Message"></textarea>
    <button class="primary">Send</button>
  </form>
</section>`;
document.body.append(host);

const $ = <T extends Element>(selector: string) => root.querySelector(selector) as T;
const panel = $<HTMLElement>(".panel");
const prechat = $<HTMLFormElement>(".prechat");
const compose = $<HTMLFormElement>(".compose");
const logView = $<HTMLElement>(".log");
const status = $<HTMLElement>(".status");
let client: LiveChatClient | undefined;
const onEvent = (event: ChatEvent) => {
	if (event.type === "ended") compose.hidden = true;
	if (event.type === "storage") status.textContent = event.saved ? "" : NOT_SAVED;
	// A message that was "not sent yet" went out in the background (the SDK retries its outbox).
	if (event.type === "messages" && client?.pending.length === 0 && status.textContent?.startsWith("Not sent yet")) status.textContent = "";
	render();
};

$<HTMLButtonElement>(".launcher").addEventListener("click", async () => {
	panel.classList.toggle("open");
	if (panel.classList.contains("open") && !client) await resume();
});

prechat.addEventListener("submit", async (event) => {
	event.preventDefault();
	const data = new FormData(prechat);
	const visitor: Record<string, string> = { name: String(data.get("name")) };
	if (data.get("email")) visitor.email = String(data.get("email"));
	try {
		client = await LiveChatClient.startChat({ baseUrls, siteId, store, visitor, onEvent });
		rememberChat(client.chatId);
		showChat();
	} catch (error) {
		status.textContent = `Could not start the chat: ${(error as Error).message}`;
	}
});

compose.addEventListener("submit", (event) => {
	event.preventDefault();
	const textarea = compose.elements.namedItem("content") as HTMLTextAreaElement;
	const content = textarea.value.trim();
	if (!content || !client) return;
	textarea.value = "";
	const sending = client.send(content);
	render();
	sending.then(() => {
		status.textContent = client?.saved === false || !storage ? NOT_SAVED : "";
		render();
	}, (error: Error) => {
		status.textContent = `Not sent yet: ${error.message}`;
		render();
	});
});
compose.addEventListener("keydown", (event) => {
	if (event.key === "Enter" && !event.shiftKey) {
		event.preventDefault();
		compose.requestSubmit();
	}
});

async function resume() {
	const chatId = storage?.getItem(currentChatKey);
	client = chatId ? await LiveChatClient.resume({ baseUrls, siteId, chatId, store, onEvent }) : undefined;
	if (!client) return;
	showChat();
	if (client.pending.length > 0) client.flush().then(render, () => render());
}

function showChat() {
	prechat.hidden = true;
	logView.hidden = false;
	compose.hidden = client?.status === "ended";
	if (!storage) status.textContent = NOT_SAVED;
	render();
	// WebSocket where it can, long-poll where it cannot; the SDK rebuilds, reconnects and fails over by itself.
	void client?.connect();
}

function render() {
	if (!client) return;
	const atBottom = logView.scrollHeight - logView.scrollTop - logView.clientHeight < 40;
	const rows = client.messages.map((m) => bubble(kind(m), m.content, m.senderName));
	for (const item of client.pending) rows.push(bubble("visitor pending", item.content));
	logView.replaceChildren(...rows);
	if (atBottom) logView.scrollTop = logView.scrollHeight;
}

const kind = (m: ChatMessage) => (m.type === 1 ? "visitor" : m.type === 4 ? "system" : "agent");

function bubble(className: string, content: string, title?: string) {
	const div = document.createElement("div");
	div.className = `msg ${className}`;
	div.textContent = content;
	if (title) div.title = title;
	return div;
}
