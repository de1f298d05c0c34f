/**
 * The console's state, fed by AgentClient's events (presence, queue, assignments, private messages)
 * and by each chat's LiveChatClient (messages, typing, read receipts, the end). Views read it and
 * re-render on `changed`.
 */
import {
	AgentClient,
	LiveChatClient,
	LocalStorageStore,
} from "../../client/index.ts";
import { MessageType } from "../../src/protocol/offsets.ts";
import { alert, loadPreferences } from "./alerts.ts";
import { ConsoleApi, describeError } from "./api.ts";
import { mergePresence, nameIn, newTab, Observable } from "./model.ts";
import { chatStorePrefix } from "./sign-out.ts";
import type { AgentEvent, ChatEvent } from "../../client/index.ts";
import type { AgentStatus } from "../../src/protocol/agent-frames.ts";
import type { AgentSummary, QueueEntry } from "../../src/protocol/dispatch.ts";
import type { Preferences } from "./alerts.ts";
import type { ConsoleConfig } from "./api.ts";
import type { ChatTab, PrivateMessage, View } from "./model.ts";
import type { Session } from "./session.ts";

export class ConsoleState extends Observable {
	readonly api: ConsoleApi;
	readonly client: AgentClient;
	agents: AgentSummary[] = [];
	queue: QueueEntry[] = [];
	readonly tabs = new Map<string, ChatTab>();
	view: View = { kind: "queue" };
	config: ConsoleConfig = {
		routing: { mode: "auto" },
		cannedMessages: [],
		wrapupCategories: [],
	};
	privates: PrivateMessage[] = [];
	privateUnread = new Map<string, number>();
	invitations: { chatId: string; by: string }[] = [];
	preferences: Preferences;
	connection: "websocket" | "heartbeat" | "off" = "off";
	/** Read out by the live region: new chats, private messages, failures. */
	announcement = "";
	signedOut = false;
	private ready = false;
	private configReading: Promise<void> | undefined;
	private readonly names = new Map<string, string>();
	private readonly typingTimers = new Map<
		string,
		ReturnType<typeof setTimeout>
	>();

	constructor(readonly session: Session) {
		super();
		this.api = new ConsoleApi(session.baseUrl, session.siteId, session.token);
		this.preferences = loadPreferences(session.agent.id);
		this.client = new AgentClient({
			siteId: session.siteId,
			token: session.token,
			agent: session.agent,
			baseUrls: [session.baseUrl],
			status: session.status,
			store: new LocalStorageStore(
				window.localStorage,
				chatStorePrefix(session.agent.id)
			),
			onEvent: (event) => this.received(event),
		});
	}

	get me() {
		return this.session.agent;
	}

	async start(): Promise<void> {
		this.refreshConfig();
		void this.client
			.agents()
			.then((agents) => this.update(() => (this.agents = agents)))
			.catch(() => undefined);
		await this.client.connect();
		await this.learnNames();
		this.ready = true;
		this.changed();
	}

	/**
	 * Reads the site's console config (again): an admin may switch routing or change canned messages
	 * and categories while the console is open. One read at a time.
	 */
	refreshConfig(): void {
		this.configReading ??= this.api
			.config()
			.then((config) => this.update(() => (this.config = config)))
			.catch(() => undefined)
			.finally(() => (this.configReading = undefined));
	}

	stop(): void {
		this.client.disconnect();
		for (const tab of this.tabs.values()) tab.chat.disconnect();
	}

	announce(text: string): void {
		this.update(() => (this.announcement = text));
	}

	fail(error: unknown): void {
		this.announce(describeError(error));
	}

	show(view: View): void {
		this.update(() => {
			this.view = view;
			if (view.kind === "chat") {
				const tab = this.tabs.get(view.chatId);
				if (tab) tab.unread = 0;
			}
			if (view.kind === "team") this.privateUnread.clear();
		});
		if (view.kind === "chat") this.markRead(view.chatId);
	}

	async setStatus(status: AgentStatus): Promise<void> {
		this.session.status = status;
		await this.client.setStatus(status);
		this.changed();
	}

	/** Tells the visitor this agent has read the chat so far (a read receipt), while the tab is in view. */
	markRead(chatId: string): void {
		const tab = this.tabs.get(chatId);
		if (!tab || tab.monitoring || tab.state !== "live" || document.hidden)
			return;
		if (this.view.kind !== "chat" || this.view.chatId !== chatId) return;
		tab.chat.markRead();
	}

	/** A supervisor's read-only view of a chat: its messages, live, and the visitor is not told. */
	async monitor(chatId: string, visitorName?: string): Promise<void> {
		await this.api.monitor(chatId);
		const chat = new LiveChatClient({
			siteId: this.session.siteId,
			chatId,
			token: this.session.token,
			baseUrls: [this.session.baseUrl],
			onEvent: (e) => this.chatEvent(chatId, e),
		});
		if (visitorName) this.names.set(chatId, visitorName);
		this.addTab(chat, true);
		await chat.poll();
		void chat.connect();
		this.show({ kind: "chat", chatId });
	}

	closeTab(chatId: string): void {
		const tab = this.tabs.get(chatId);
		tab?.chat.disconnect();
		this.update(() => {
			this.tabs.delete(chatId);
			if (this.view.kind === "chat" && this.view.chatId === chatId)
				this.view = { kind: "queue" };
		});
	}

	private received(event: AgentEvent): void {
		switch (event.type) {
			case "presence":
				return this.update(
					() => (this.agents = mergePresence(this.agents, event.agents))
				);
			case "queue":
				for (const entry of event.waiting)
					if (entry.visitorName)
						this.names.set(entry.chatId, entry.visitorName);
				return this.update(() => (this.queue = event.waiting));
			case "assigned":
				return this.assigned(event.chat);
			case "released": {
				const tab = this.tabs.get(event.chatId);
				if (!tab) return;
				// A chat handed on, or one the room says is no longer ours (a stale claim): nothing left to do in it.
				if (event.reason === "transferred" || event.reason === "stale")
					return this.closeTab(event.chatId);
				return this.update(() => (tab.state = "ended"));
			}
			case "invited":
				this.invitations.push({ chatId: event.chatId, by: event.by });
				alert(
					this.preferences,
					"Invitation to a chat",
					`${event.by} invites you to join a chat`
				);
				return this.announce(`${event.by} invites you to join a chat.`);
			case "private": {
				this.privates.push({
					agentId: event.from,
					fromMe: false,
					text: event.message,
					at: Date.now(),
				});
				if (this.view.kind !== "team")
					this.privateUnread.set(
						event.from,
						(this.privateUnread.get(event.from) ?? 0) + 1
					);
				const name =
					this.agents.find((a) => a.id === event.from)?.name ?? "An agent";
				alert(this.preferences, `Message from ${name}`, event.message);
				return this.announce(`Private message from ${name}: ${event.message}`);
			}
			case "error":
				if (event.error.type === "unauthorized")
					return this.update(() => (this.signedOut = true));
				return this.announce(event.error.message);
			case "connection":
				return this.update(() => (this.connection = event.via));
			case "chat":
				return this.chatEvent(event.chatId, event.event);
		}
	}

	private assigned(chat: LiveChatClient): void {
		const existing = this.tabs.get(chat.chatId);
		if (existing?.monitoring) existing.chat.disconnect(); // a supervisor who joins what it watched
		this.addTab(chat, false);
		if (!this.ready) return;
		if (this.view.kind !== "chat")
			this.show({ kind: "chat", chatId: chat.chatId });
		// The dispatcher knows the visitor's name: the alert says who it is.
		void this.learnNames().then(() => {
			const name = this.tabs.get(chat.chatId)?.visitorName ?? "A visitor";
			alert(this.preferences, "New chat", `${name} is waiting for your answer`);
			this.announce(`New chat with ${name}.`);
		});
	}

	private addTab(chat: LiveChatClient, monitoring: boolean): void {
		const visitorName =
			this.names.get(chat.chatId) ?? nameIn(chat) ?? "Visitor";
		this.update(() =>
			this.tabs.set(chat.chatId, newTab(chat, visitorName, monitoring))
		);
	}

	/** Visitor names for tabs: the dispatcher knows them for the agent's own chats. */
	private async learnNames(): Promise<void> {
		const chats = await this.api.myChats().catch(() => []);
		this.update(() => {
			for (const { chatId, visitorName } of chats) {
				const tab = this.tabs.get(chatId);
				if (visitorName) this.names.set(chatId, visitorName);
				if (tab && visitorName) tab.visitorName = visitorName;
			}
		});
	}

	private chatEvent(chatId: string, event: ChatEvent): void {
		const tab = this.tabs.get(chatId);
		if (!tab) return;
		const inView =
			this.view.kind === "chat" &&
			this.view.chatId === chatId &&
			!document.hidden;
		switch (event.type) {
			case "messages": {
				const fromVisitor = event.messages.filter(
					(m) => m.type === MessageType.Visitor
				);
				if (fromVisitor.length === 0) return this.changed();
				if (tab.visitorName === "Visitor")
					tab.visitorName = nameIn(tab.chat) ?? tab.visitorName;
				tab.visitorTyping = false;
				if (!inView) tab.unread += fromVisitor.length;
				else this.markRead(chatId);
				if (!inView)
					alert(
						this.preferences,
						`${tab.visitorName} wrote`,
						fromVisitor.at(-1)!.content,
						"quiet"
					);
				return this.changed();
			}
			case "typing":
				if (event.role !== "visitor") return;
				clearTimeout(this.typingTimers.get(chatId));
				// A visitor who leaves mid-sentence sends no "off": the indicator goes by itself.
				if (event.on)
					this.typingTimers.set(
						chatId,
						setTimeout(
							() => this.update(() => (tab.visitorTyping = false)),
							8000
						)
					);
				return this.update(() => (tab.visitorTyping = event.on));
			case "read":
				if (event.role !== "visitor") return;
				return this.update(
					() =>
						(tab.visitorReadUpTo = Math.max(
							tab.visitorReadUpTo,
							event.agentDataOffset
						))
				);
			case "ended":
				return this.update(() => (tab.state = "ended"));
			case "refused":
				// The room no longer lets us in (transferred away): no reply box that could only answer 403.
				this.announce(`You are no longer in the chat with ${tab.visitorName}.`);
				return this.closeTab(chatId);
			case "status":
				if (event.status === "ended") this.update(() => (tab.state = "ended"));
				return;
			default:
				return;
		}
	}
}
