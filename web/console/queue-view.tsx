/** The waiting queue with how long each visitor has waited; any agent may accept from it (SPEC §7). */
import { useEffect, useState } from "preact/hooks";
import { describeError } from "./api.ts";
import { ErrorNote, ListHead, RowButton } from "./list.tsx";
import { elapsed, useConsole } from "./use-console.ts";
import type { ConsoleState } from "./state.ts";

/** How often the queue view reads the console config again while it shows. */
const CONFIG_REFRESH_MS = 20_000;

export function QueueView({ state }: { state: ConsoleState }) {
	useConsole(state);
	const [now, setNow] = useState(Date.now());
	const [error, setError] = useState("");
	useEffect(() => {
		const timer = setInterval(() => setNow(Date.now()), 1000);
		// The hint below follows the site's routing mode, which an admin may switch at any time.
		state.refreshConfig();
		const config = setInterval(() => state.refreshConfig(), CONFIG_REFRESH_MS);
		return () => {
			clearInterval(timer);
			clearInterval(config);
		};
	}, [state]);
	const accept = async (chatId: string) => {
		setError("");
		try {
			const chat = await state.client.accept(chatId);
			state.show({ kind: "chat", chatId: chat.chatId });
		} catch (failure) {
			setError(describeError(failure));
		}
	};
	return (
		<section aria-labelledby="queue-title">
			<h2 id="queue-title">Waiting visitors</h2>
			<p class="hint">
				{state.config.routing.mode === "auto"
					? "Chats are routed to agents automatically; you may also take one here."
					: "Take a chat from the queue to answer it."}
			</p>
			<ErrorNote error={error} />
			{state.queue.length === 0 ? (
				<p>No visitor is waiting.</p>
			) : (
				<table class="list">
					<ListHead columns={["#", "Visitor", "Department", "Waiting"]} />
					<tbody>
						{state.queue.map((entry) => (
							<tr key={entry.chatId}>
								<td>{entry.position}</td>
								<td>{entry.visitorName ?? "Visitor"}</td>
								<td>{entry.department ?? "—"}</td>
								<td class="waiting">{elapsed(entry.requestTime, now)}</td>
								<td>
									<RowButton
										label="Accept"
										name={`Accept chat with ${entry.visitorName ?? "visitor"}`}
										onClick={() => void accept(entry.chatId)}
									/>
								</td>
							</tr>
						))}
					</tbody>
				</table>
			)}
		</section>
	);
}
