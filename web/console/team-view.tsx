/** The site's agents with their presence and free capacity, and private messages between agents (SPEC §4). */
import { useState } from "preact/hooks";
import { describeError } from "./api.ts";
import { Linked } from "./linked.tsx";
import { ErrorNote, ListHead } from "./list.tsx";
import { clock } from "./use-console.ts";
import type { ConsoleState } from "./state.ts";

export function TeamView({ state }: { state: ConsoleState }) {
	const others = state.agents.filter((a) => a.id !== state.me.id);
	const [chosen, setWithId] = useState("");
	// Until the agent picks someone: whoever wrote last, else the first colleague.
	const withId =
		chosen || state.privates.at(-1)?.agentId || others[0]?.id || "";
	const [text, setText] = useState("");
	const [error, setError] = useState("");
	const peer = others.find((a) => a.id === withId);
	const conversation = state.privates.filter((m) => m.agentId === withId);
	const send = async (event: Event) => {
		event.preventDefault();
		const content = text.trim();
		if (!content || !peer) return;
		setError("");
		try {
			const { delivered } = await state.api.privateMessage(peer.id, content);
			setText("");
			state.update(() =>
				state.privates.push({
					agentId: peer.id,
					fromMe: true,
					text: content,
					at: Date.now(),
				})
			);
			if (delivered === 0)
				state.announce(
					`${peer.name} has no console open; the message was not seen.`
				);
		} catch (failure) {
			setError(describeError(failure));
		}
	};
	return (
		<section aria-labelledby="team-title" class="team">
			<h2 id="team-title">Team</h2>
			<table class="list">
				<ListHead columns={["Agent", "Status", "Free"]} />
				<tbody>
					{state.agents.map((a) => (
						<tr key={a.id}>
							<td>
								{a.name}
								{a.role === "supervisor" ? " (supervisor)" : ""}
								{a.id === state.me.id ? " (you)" : ""}
							</td>
							<td>
								<span class={`dot status-${a.status}`} aria-hidden="true" />{" "}
								{a.status}
							</td>
							<td>
								{a.free} of {a.maxChats}
							</td>
							<td>
								{a.id !== state.me.id && (
									<button
										type="button"
										onClick={() => setWithId(a.id)}
										aria-pressed={a.id === withId}
									>
										Message {a.name}
									</button>
								)}
							</td>
						</tr>
					))}
				</tbody>
			</table>
			{peer && (
				<div class="private" aria-labelledby="private-title">
					<h3 id="private-title">Private messages with {peer.name}</h3>
					<ol
						class="messages"
						aria-label={`Private messages with ${peer.name}`}
					>
						{conversation.map((m, i) => (
							<li key={i} class={`message ${m.fromMe ? "me" : "agent"}`}>
								<span class="sender">{m.fromMe ? "You" : peer.name}</span>
								<span class="content">
									<Linked text={m.text} />
								</span>
								<span class="meta">{clock(m.at)}</span>
							</li>
						))}
					</ol>
					<form onSubmit={send} class="composer">
						<label>
							Message to {peer.name}
							<input
								value={text}
								onInput={(e) =>
									setText((e.currentTarget as HTMLInputElement).value)
								}
								maxLength={4000}
							/>
						</label>
						<button type="submit" disabled={!text.trim()}>
							Send
						</button>
						<ErrorNote error={error} />
					</form>
				</div>
			)}
		</section>
	);
}
