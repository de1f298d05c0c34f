/** The console's frame: who is signed in and their status, the navigation (queue, chat tabs, tools), the view, and a live region. */
import { useEffect, useState } from "preact/hooks";
import { ChatView } from "./chat-view.tsx";
import { HistoryView } from "./history-view.tsx";
import { PreferencesView } from "./preferences-view.tsx";
import { QueueView } from "./queue-view.tsx";
import { SuperviseView } from "./supervise-view.tsx";
import { TeamView } from "./team-view.tsx";
import { useConsole } from "./use-console.ts";
import { VisitorsView } from "./visitors-view.tsx";
import type { AgentStatus } from "../../src/protocol/agent-frames.ts";
import type { View } from "./model.ts";
import type { ConsoleState } from "./state.ts";
import type { JSX } from "preact";

interface NavItem {
	id: string;
	view: View;
	label: string;
	count?: number;
	note?: string;
}

export function Shell({
	state,
	onSignOut,
}: {
	state: ConsoleState;
	onSignOut: (why?: string) => void;
}) {
	useConsole(state);
	useEffect(() => {
		if (state.signedOut)
			onSignOut("Your session has ended. Please sign in again.");
	}, [state.signedOut]);
	useEffect(() => {
		// Read receipts wait until the agent actually looks at the chat.
		const seen = () =>
			state.view.kind === "chat" && state.markRead(state.view.chatId);
		document.addEventListener("visibilitychange", seen);
		return () => document.removeEventListener("visibilitychange", seen);
	}, [state]);
	const unreadTotal = [...state.tabs.values()].reduce(
		(n, t) => n + t.unread,
		0
	);
	useEffect(() => {
		document.title =
			unreadTotal > 0 ? `(${unreadTotal}) Agent console` : "Agent console";
	}, [unreadTotal]);

	const items: NavItem[] = [
		{
			id: "queue",
			view: { kind: "queue" },
			label: "Queue",
			count: state.queue.length,
		},
		...[...state.tabs.values()].map((tab) => ({
			id: `chat-${tab.chatId}`,
			view: { kind: "chat", chatId: tab.chatId } as View,
			label: tab.visitorName,
			count: tab.unread,
			note: tab.monitoring
				? "monitoring"
				: tab.state === "ended"
					? "ended"
					: tab.visitorTyping
						? "typing…"
						: undefined,
		})),
		{ id: "history", view: { kind: "history" }, label: "History" },
		{ id: "visitors", view: { kind: "visitors" }, label: "Visitors" },
		{
			id: "team",
			view: { kind: "team" },
			label: "Team",
			count: [...state.privateUnread.values()].reduce((a, b) => a + b, 0),
		},
		...(state.me.role === "supervisor"
			? [
					{
						id: "supervise",
						view: { kind: "supervise" } as View,
						label: "Supervise",
					},
				]
			: []),
		{ id: "preferences", view: { kind: "preferences" }, label: "Preferences" },
	];
	const current =
		state.view.kind === "chat" ? `chat-${state.view.chatId}` : state.view.kind;
	const move = (event: KeyboardEvent, index: number) => {
		const step =
			event.key === "ArrowDown" ? 1 : event.key === "ArrowUp" ? -1 : 0;
		const to =
			event.key === "Home"
				? 0
				: event.key === "End"
					? items.length - 1
					: step
						? (index + step + items.length) % items.length
						: -1;
		if (to < 0) return;
		event.preventDefault();
		state.show(items[to]!.view);
		document.getElementById(`tab-${items[to]!.id}`)?.focus();
	};

	return (
		<div class="shell">
			<header class="topbar">
				<h1>Agent console</h1>
				<span class="who">
					{state.me.name} <small>({state.me.role})</small>
				</span>
				<StatusSwitch state={state} />
				<span
					class={`connection ${state.connection}`}
					title="Connection to the server"
				>
					{state.connection === "websocket"
						? "Connected"
						: state.connection === "heartbeat"
							? "Reconnecting…"
							: "Offline"}
				</span>
				<button type="button" onClick={() => onSignOut()}>
					Sign out
				</button>
			</header>
			{state.invitations.map((invitation) => (
				<Invitation key={invitation.chatId} state={state} {...invitation} />
			))}
			<nav class="sidebar" aria-label="Console">
				<div
					role="tablist"
					aria-orientation="vertical"
					aria-label="Queue, chats and tools"
				>
					{items.map((item, index) => (
						<button
							key={item.id}
							id={`tab-${item.id}`}
							role="tab"
							type="button"
							aria-selected={item.id === current}
							aria-controls="view"
							tabIndex={item.id === current ? 0 : -1}
							class={item.id.startsWith("chat-") ? "tab chat-tab" : "tab"}
							onClick={() => state.show(item.view)}
							onKeyDown={(event) => move(event, index)}
						>
							<span class="label">{item.label}</span>
							{item.note && <span class="note">{item.note}</span>}
							{item.count ? (
								<span
									class="badge"
									aria-label={`${item.count} ${item.id === "queue" ? "waiting" : "unread"}`}
								>
									{item.count}
								</span>
							) : null}
						</button>
					))}
				</div>
			</nav>
			<main
				id="view"
				role="tabpanel"
				aria-labelledby={`tab-${current}`}
				class="view"
			>
				<CurrentView state={state} />
			</main>
			<div class="visually-hidden" role="status" aria-live="polite">
				{state.announcement}
			</div>
		</div>
	);
}

/** The views that show the same whatever is selected; a chat view shows its tab. */
const TOOL_VIEWS: Record<
	Exclude<View["kind"], "chat">,
	(props: { state: ConsoleState }) => JSX.Element
> = {
	queue: QueueView,
	history: HistoryView,
	visitors: VisitorsView,
	team: TeamView,
	supervise: SuperviseView,
	preferences: PreferencesView,
};

function CurrentView({ state }: { state: ConsoleState }) {
	const view = state.view;
	if (view.kind !== "chat") {
		const Tool = TOOL_VIEWS[view.kind];
		return <Tool state={state} />;
	}
	const tab = state.tabs.get(view.chatId);
	return tab ? (
		<ChatView key={tab.chatId} state={state} tab={tab} />
	) : (
		<QueueView state={state} />
	);
}

function StatusSwitch({ state }: { state: ConsoleState }) {
	const change = (event: Event) => {
		const status = (event.currentTarget as HTMLSelectElement)
			.value as AgentStatus;
		void state.setStatus(status).catch((error: unknown) => state.fail(error));
	};
	return (
		<label class="status">
			Status
			<select
				value={state.client.status}
				onChange={change}
				class={`status-${state.client.status}`}
			>
				<option value="online">Online</option>
				<option value="away">Away</option>
				<option value="offline">Offline</option>
			</select>
		</label>
	);
}

function Invitation({
	state,
	chatId,
	by,
}: {
	state: ConsoleState;
	chatId: string;
	by: string;
}) {
	const [error, setError] = useState("");
	const dismiss = () =>
		state.update(
			() =>
				(state.invitations = state.invitations.filter(
					(i) => i.chatId !== chatId
				))
		);
	const join = async () => {
		try {
			await state.api.join(chatId);
			dismiss();
		} catch (failure) {
			setError(String((failure as Error).message));
		}
	};
	return (
		<div class="invitation" role="region" aria-label="Invitation">
			{by} invites you to join a chat.{" "}
			<button type="button" onClick={join}>
				Join
			</button>{" "}
			<button type="button" onClick={dismiss}>
				Dismiss
			</button>
			{error && <span role="alert"> {error}</span>}
		</div>
	);
}
