/**
 * Writing in a chat: Enter sends, Shift+Enter starts a new line. `/` followed by a shortcut offers
 * the site's canned messages (a combobox); Enter or Tab puts the chosen one in the box, where it can
 * be edited; sent unchanged, it goes out as that canned message (SPEC §4: cannedMessage.useLog).
 */
import { useEffect, useRef, useState } from "preact/hooks";
import { describeError } from "./api.ts";
import type { ChatTab } from "./model.ts";
import type { ConsoleState } from "./state.ts";

const TYPING_IDLE_MS = 3000;

export function Composer({
	state,
	tab,
}: {
	state: ConsoleState;
	tab: ChatTab;
}) {
	const [text, setText] = useState("");
	const [picked, setPicked] = useState<
		{ shortcut: string; text: string } | undefined
	>();
	const [highlight, setHighlight] = useState(0);
	const [error, setError] = useState("");
	const box = useRef<HTMLTextAreaElement>(null);
	const typing = useRef<{ on: boolean; timer?: ReturnType<typeof setTimeout> }>(
		{ on: false }
	);
	useEffect(() => box.current?.focus(), [tab.chatId]);
	useEffect(() => () => stopTyping(), [tab.chatId]);

	const query = /^\/([A-Za-z0-9_-]*)$/.exec(text)?.[1];
	const suggestions =
		query === undefined
			? []
			: state.config.cannedMessages
					.filter((c) =>
						c.shortcut.toLowerCase().startsWith(query.toLowerCase())
					)
					.slice(0, 8);
	const open = suggestions.length > 0;

	function stopTyping() {
		clearTimeout(typing.current.timer);
		if (typing.current.on) tab.chat.typing(false);
		typing.current.on = false;
	}

	const typed = (value: string) => {
		setText(value);
		setHighlight(0);
		if (picked && value !== picked.text) setPicked(undefined);
		if (!value) return stopTyping();
		if (!typing.current.on) tab.chat.typing(true);
		typing.current.on = true;
		clearTimeout(typing.current.timer);
		typing.current.timer = setTimeout(stopTyping, TYPING_IDLE_MS);
	};

	const choose = (canned: { shortcut: string; text: string }) => {
		setText(canned.text);
		setPicked(canned);
		box.current?.focus();
	};

	const send = async () => {
		const content = text.trim();
		if (!content) return;
		const canned =
			picked && picked.text.trim() === content ? picked : undefined;
		setText("");
		setPicked(undefined);
		setError("");
		stopTyping();
		try {
			if (canned)
				await state.api.sendCanned(tab.chat, canned.shortcut, content);
			else await tab.chat.send(content);
		} catch (failure) {
			setText(content);
			setError(`Not sent: ${describeError(failure)}`);
		}
	};

	const keyDown = (event: KeyboardEvent) => {
		if (open && (event.key === "ArrowDown" || event.key === "ArrowUp")) {
			event.preventDefault();
			setHighlight(
				(h) =>
					(h + (event.key === "ArrowDown" ? 1 : -1) + suggestions.length) %
					suggestions.length
			);
		} else if (
			open &&
			(event.key === "Enter" || event.key === "Tab") &&
			!event.shiftKey
		) {
			event.preventDefault();
			choose(suggestions[Math.min(highlight, suggestions.length - 1)]!);
		} else if (open && event.key === "Escape") {
			event.preventDefault();
			setText("");
		} else if (event.key === "Enter" && !event.shiftKey) {
			event.preventDefault();
			void send();
		}
	};

	return (
		<form
			class="composer"
			onSubmit={(event) => {
				event.preventDefault();
				void send();
			}}
		>
			<label for={`reply-${tab.chatId}`} class="visually-hidden">
				Reply to {tab.visitorName}
			</label>
			{open && (
				<ul
					id={`canned-${tab.chatId}`}
					role="listbox"
					class="canned"
					aria-label="Canned messages"
				>
					{suggestions.map((c, i) => (
						<li
							key={c.shortcut}
							id={`canned-${tab.chatId}-${i}`}
							role="option"
							aria-selected={i === highlight}
							onMouseDown={(event) => {
								event.preventDefault();
								choose(c);
							}}
						>
							<strong>/{c.shortcut}</strong> {c.text}
						</li>
					))}
				</ul>
			)}
			<textarea
				id={`reply-${tab.chatId}`}
				ref={box}
				rows={3}
				value={text}
				placeholder="Type a reply, or / for canned messages"
				role="combobox"
				aria-autocomplete="list"
				aria-expanded={open}
				aria-controls={open ? `canned-${tab.chatId}` : undefined}
				aria-activedescendant={
					open ? `canned-${tab.chatId}-${highlight}` : undefined
				}
				onInput={(event) =>
					typed((event.currentTarget as HTMLTextAreaElement).value)
				}
				onKeyDown={keyDown}
			/>
			<button type="submit" disabled={!text.trim()}>
				Send
			</button>
			{error && (
				<p role="alert" class="error">
					{error}
				</p>
			)}
		</form>
	);
}
