/** One chat: its messages with read receipts, the visitor's typing, the composer, transfer, end and wrap-up. */
import { useEffect, useRef, useState } from "preact/hooks";
import { MessageType } from "../../src/protocol/offsets.ts";
import { describeError } from "./api.ts";
import { Composer } from "./composer.tsx";
import { Linked } from "./linked.tsx";
import { ErrorNote } from "./list.tsx";
import { clock } from "./use-console.ts";
import type { ChatMessage } from "../../src/protocol/chat.ts";
import type { ChatTab } from "./model.ts";
import type { ConsoleState } from "./state.ts";

export function ChatView({
	state,
	tab,
}: {
	state: ConsoleState;
	tab: ChatTab;
}) {
	const messages = tab.chat.messages;
	const log = useRef<HTMLOListElement>(null);
	useEffect(() => {
		log.current?.lastElementChild?.scrollIntoView({ block: "end" });
	}, [messages.length]);
	const mine = messages.filter(
		(m) => m.type === MessageType.Agent && m.senderId === state.me.id
	);
	const lastMine = mine.at(-1);
	return (
		<section class="chat" aria-labelledby="chat-title">
			<header class="chat-header">
				<h2 id="chat-title">{tab.visitorName}</h2>
				<span class="chat-state">
					{tab.monitoring
						? "Monitoring: the visitor does not see you"
						: tab.state === "ended"
							? "Ended"
							: "Chatting"}
				</span>
				{tab.state === "live" && !tab.monitoring && (
					<ChatActions state={state} tab={tab} />
				)}
				{tab.monitoring && <MonitorActions state={state} tab={tab} />}
			</header>
			<ol
				class="messages"
				ref={log}
				aria-label={`Messages with ${tab.visitorName}`}
			>
				{messages.map((m) => (
					<Message
						key={m.id}
						message={m}
						me={state.me.id}
						visitorName={tab.visitorName}
						receipt={
							m === lastMine
								? m.dataOffset <= tab.visitorReadUpTo
									? "Read"
									: "Sent"
								: undefined
						}
					/>
				))}
			</ol>
			<p class="typing" aria-live="polite">
				{tab.visitorTyping ? `${tab.visitorName} is typing…` : ""}
			</p>
			{tab.state === "live" && !tab.monitoring && (
				<Composer state={state} tab={tab} />
			)}
			{tab.state === "ended" && !tab.monitoring && (
				<WrapUp state={state} tab={tab} />
			)}
			{tab.monitoring && (
				<p class="hint">You are watching this chat. Join it to write.</p>
			)}
		</section>
	);
}

function Message({
	message,
	me,
	visitorName,
	receipt,
}: {
	message: ChatMessage;
	me: string;
	visitorName: string;
	receipt?: "Read" | "Sent";
}) {
	const who =
		message.type === MessageType.Visitor
			? "visitor"
			: message.type === MessageType.System
				? "system"
				: message.senderId === me
					? "me"
					: "agent";
	const name =
		who === "me"
			? "You"
			: who === "system"
				? ""
				: (message.senderName ?? (who === "visitor" ? visitorName : "Agent"));
	return (
		<li class={`message ${who}`}>
			{name && <span class="sender">{name}</span>}
			<span class="content">
				<Linked text={message.content} />
			</span>
			<span class="meta">
				<time dateTime={new Date(message.sendTime).toISOString()}>
					{clock(message.sendTime)}
				</time>
				{receipt && (
					<span class={`receipt ${receipt.toLowerCase()}`}> · {receipt}</span>
				)}
			</span>
		</li>
	);
}

function ChatActions({ state, tab }: { state: ConsoleState; tab: ChatTab }) {
	const [target, setTarget] = useState("");
	const [error, setError] = useState("");
	// Transfer and invitations go only to agents who can take the chat now: online, with room.
	const candidates = state.agents.filter(
		(a) => a.id !== state.me.id && a.status === "online" && a.free > 0
	);
	const act = async (what: () => Promise<unknown>, done: string) => {
		setError("");
		try {
			await what();
			state.announce(done);
		} catch (failure) {
			setError(describeError(failure));
		}
	};
	const transfer = () => {
		const to = candidates.find((a) => a.id === target);
		if (to)
			void act(
				() =>
					state.client
						.transfer(tab.chatId, to.id)
						.then(() => state.closeTab(tab.chatId)),
				`Chat transferred to ${to.name}.`
			);
	};
	return (
		<div class="chat-actions">
			<label>
				Transfer to
				<select
					value={target}
					onChange={(e) =>
						setTarget((e.currentTarget as HTMLSelectElement).value)
					}
				>
					<option value="">Choose an agent…</option>
					{candidates.map((a) => (
						<option key={a.id} value={a.id}>
							{a.name} ({a.free} free)
						</option>
					))}
				</select>
			</label>
			<button type="button" onClick={transfer} disabled={!target}>
				Transfer
			</button>
			<label>
				Invite
				<select
					value=""
					onChange={(e) => {
						const id = (e.currentTarget as HTMLSelectElement).value;
						const name = candidates.find((a) => a.id === id)?.name;
						if (id)
							void act(
								() => state.api.inviteAgent(tab.chatId, id),
								`${name} is invited to this chat.`
							);
					}}
				>
					<option value="">Invite an agent…</option>
					{candidates.map((a) => (
						<option key={a.id} value={a.id}>
							{a.name}
						</option>
					))}
				</select>
			</label>
			<button
				type="button"
				class="danger"
				onClick={() =>
					void act(() => tab.chat.end(), "Chat ended.").then(() =>
						state.update(() => (tab.state = "ended"))
					)
				}
			>
				End chat
			</button>
			<ErrorNote error={error} />
		</div>
	);
}

function MonitorActions({ state, tab }: { state: ConsoleState; tab: ChatTab }) {
	const [error, setError] = useState("");
	const join = async () => {
		try {
			await state.api.join(tab.chatId);
		} catch (failure) {
			setError(describeError(failure));
		}
	};
	return (
		<div class="chat-actions">
			<button type="button" onClick={join}>
				Join chat
			</button>
			<button type="button" onClick={() => state.closeTab(tab.chatId)}>
				Stop monitoring
			</button>
			<ErrorNote error={error} />
		</div>
	);
}

function WrapUp({ state, tab }: { state: ConsoleState; tab: ChatTab }) {
	const [error, setError] = useState("");
	const first = useRef<HTMLSelectElement>(null);
	useEffect(() => first.current?.focus(), []);
	const submit = async (event: Event) => {
		event.preventDefault();
		const form = new FormData(event.currentTarget as HTMLFormElement);
		const category = String(form.get("category") ?? "");
		const comment = String(form.get("comment") ?? "").trim();
		try {
			await tab.chat.wrapup({
				...(category ? { category } : {}),
				...(comment ? { comment } : {}),
			});
			state.update(() => (tab.wrappedUp = true));
			state.announce("Wrap-up saved.");
		} catch (failure) {
			setError(describeError(failure));
		}
	};
	if (tab.wrappedUp) {
		return (
			<div class="wrapup done">
				<p>Wrap-up saved.</p>
				<button type="button" onClick={() => state.closeTab(tab.chatId)}>
					Close chat
				</button>
			</div>
		);
	}
	return (
		<form class="wrapup" onSubmit={submit} aria-labelledby="wrapup-title">
			<h3 id="wrapup-title">Wrap-up</h3>
			<label>
				Category
				<select name="category" ref={first}>
					<option value="">None</option>
					{state.config.wrapupCategories.map((c) => (
						<option key={c} value={c}>
							{c}
						</option>
					))}
				</select>
			</label>
			<label>
				Comment
				<textarea name="comment" rows={3} maxLength={2000} />
			</label>
			<ErrorNote error={error} />
			<button type="submit">Save wrap-up</button>{" "}
			<button type="button" onClick={() => state.closeTab(tab.chatId)}>
				Close without wrap-up
			</button>
		</form>
	);
}
