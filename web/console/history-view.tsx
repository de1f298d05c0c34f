/** Persisted chats (SPEC §4): the agent's own, newest first, searchable by visitor or words said; one opens as a transcript. */
import { useEffect, useState } from "preact/hooks";
import { MessageType } from "../../src/protocol/offsets.ts";
import { describeError } from "./api.ts";
import { Linked } from "./linked.tsx";
import { clock } from "./use-console.ts";
import type { HistoryChat, HistoryTranscript } from "./api.ts";
import type { ConsoleState } from "./state.ts";

export function HistoryView({ state }: { state: ConsoleState }) {
	const [query, setQuery] = useState("");
	const [chats, setChats] = useState<HistoryChat[] | undefined>();
	const [open, setOpen] = useState<HistoryTranscript | undefined>();
	const [error, setError] = useState("");
	const load = async (q: string) => {
		setError("");
		try {
			setChats((await state.api.history(q)).chats);
		} catch (failure) {
			setError(describeError(failure));
		}
	};
	useEffect(() => void load(""), []);
	const show = async (chatId: string) => {
		try {
			setOpen(await state.api.transcript(chatId));
		} catch (failure) {
			setError(describeError(failure));
		}
	};
	return (
		<section aria-labelledby="history-title">
			<h2 id="history-title">History</h2>
			<form
				role="search"
				onSubmit={(event) => {
					event.preventDefault();
					setOpen(undefined);
					void load(query.trim());
				}}
			>
				<label>
					Search history
					<input
						type="search"
						value={query}
						onInput={(e) =>
							setQuery((e.currentTarget as HTMLInputElement).value)
						}
						placeholder="Visitor name, email or words"
					/>
				</label>
				<button type="submit">Search</button>
			</form>
			{error && (
				<p role="alert" class="error">
					{error}
				</p>
			)}
			{chats && chats.length === 0 && <p>No chats found.</p>}
			{chats && chats.length > 0 && (
				<ul class="history" aria-label="Past chats">
					{chats.map((c) => (
						<li key={c.chatId}>
							<button
								type="button"
								onClick={() => void show(c.chatId)}
								aria-pressed={open?.chat.chatId === c.chatId}
							>
								<strong>
									{c.visitor.name ?? c.visitor.email ?? "Visitor"}
								</strong>{" "}
								· {new Date(c.endTime).toLocaleString()} · {c.messageCount}{" "}
								messages
								{c.rating ? ` · rated ${c.rating.rating}/5` : ""}
							</button>
						</li>
					))}
				</ul>
			)}
			{open && <Transcript transcript={open} />}
		</section>
	);
}

function Transcript({ transcript }: { transcript: HistoryTranscript }) {
	const { chat, messages } = transcript;
	return (
		<article
			class="transcript"
			aria-label={`Transcript with ${chat.visitor.name ?? "visitor"}`}
		>
			<h3>
				Chat with {chat.visitor.name ?? chat.visitor.email ?? "a visitor"}
			</h3>
			{chat.wrapups.map((w, i) => (
				<p key={i} class="hint">
					Wrap-up: {w.category ?? "no category"}
					{w.comment ? ` — ${w.comment}` : ""}
				</p>
			))}
			<ol class="messages">
				{messages.map((m) => (
					<li
						key={m.id}
						class={`message ${m.type === MessageType.Visitor ? "visitor" : m.type === MessageType.System ? "system" : "agent"}`}
					>
						{m.type !== MessageType.System && (
							<span class="sender">
								{m.senderName ??
									(m.type === MessageType.Visitor ? "Visitor" : "Agent")}
							</span>
						)}
						<span class="content">
							<Linked text={m.content} />
						</span>
						<span class="meta">{clock(m.sendTime)}</span>
					</li>
				))}
			</ol>
		</article>
	);
}
