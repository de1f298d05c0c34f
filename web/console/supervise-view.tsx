/** A supervisor's view of the site's live chats (SPEC §7): monitor one without the visitor knowing, or join it. */
import { useEffect, useState } from "preact/hooks";
import { describeError } from "./api.ts";
import { ErrorNote, ListHead, RowButton } from "./list.tsx";
import { elapsed } from "./use-console.ts";
import type { LiveChatSummary } from "./api.ts";
import type { ConsoleState } from "./state.ts";

export function SuperviseView({ state }: { state: ConsoleState }) {
	const [chats, setChats] = useState<LiveChatSummary[] | undefined>();
	const [error, setError] = useState("");
	const load = () =>
		state.api
			.liveChats()
			.then(setChats, (failure: unknown) => setError(describeError(failure)));
	useEffect(() => {
		void load();
		const timer = setInterval(() => void load(), 5000);
		return () => clearInterval(timer);
	}, []);
	const act = async (what: () => Promise<unknown>) => {
		setError("");
		try {
			await what();
		} catch (failure) {
			setError(describeError(failure));
		}
	};
	const agentName = (id: string) =>
		state.agents.find((a) => a.id === id)?.name ?? id;
	return (
		<section aria-labelledby="supervise-title">
			<h2 id="supervise-title">Live chats</h2>
			<button type="button" onClick={() => void load()}>
				Refresh
			</button>
			<ErrorNote error={error} />
			{chats && chats.length === 0 && <p>No chat is in progress.</p>}
			{chats && chats.length > 0 && (
				<table class="list">
					<ListHead columns={["Visitor", "Agents", "Since"]} />
					<tbody>
						{chats.map((c) => {
							const mine = c.agentIds.includes(state.me.id);
							const name = c.visitorName ?? "Visitor";
							return (
								<tr key={c.chatId}>
									<td>{name}</td>
									<td>{c.agentIds.map(agentName).join(", ")}</td>
									<td>{c.requestTime ? elapsed(c.requestTime) : "—"}</td>
									<td>
										<RowButton
											label="Monitor"
											name={`Monitor chat with ${name}`}
											disabled={mine || state.tabs.has(c.chatId)}
											onClick={() =>
												void act(() => state.monitor(c.chatId, name))
											}
										/>{" "}
										<RowButton
											label="Join"
											name={`Join chat with ${name}`}
											disabled={mine}
											onClick={() => void act(() => state.api.join(c.chatId))}
										/>
									</td>
								</tr>
							);
						})}
					</tbody>
				</table>
			)}
		</section>
	);
}
