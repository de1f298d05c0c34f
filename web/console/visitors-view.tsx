/** The site's tracked visitors (SPEC §7): page, time on site, chatting or not; invite one to chat, or ban one. */
import { useEffect, useRef, useState } from "preact/hooks";
import { describeError } from "./api.ts";
import { ErrorNote, ListHead } from "./list.tsx";
import { elapsed } from "./use-console.ts";
import type { VisitorSummary } from "./api.ts";
import type { ConsoleState } from "./state.ts";

const REFRESH_MS = 5000;

export function VisitorsView({ state }: { state: ConsoleState }) {
	const [visitors, setVisitors] = useState<VisitorSummary[] | undefined>();
	const [error, setError] = useState("");
	const [acting, setActing] = useState<
		{ visitorId: string; action: "invite" | "ban" } | undefined
	>();
	const load = () =>
		state.api.visitors().then(
			(list) => setVisitors(list),
			(failure: unknown) => setError(describeError(failure))
		);
	useEffect(() => {
		void load();
		const timer = setInterval(() => void load(), REFRESH_MS);
		return () => clearInterval(timer);
	}, []);
	const done = (message: string) => {
		setActing(undefined);
		state.announce(message);
		void load();
	};
	return (
		<section aria-labelledby="visitors-title">
			<h2 id="visitors-title">Visitors on the site</h2>
			<button type="button" onClick={() => void load()}>
				Refresh
			</button>
			<ErrorNote error={error} />
			{visitors && visitors.length === 0 && (
				<p>No visitor is on the site right now.</p>
			)}
			{visitors && visitors.length > 0 && (
				<table class="list">
					<ListHead columns={["Page", "Referrer", "On site", "State"]} />
					<tbody>
						{visitors.map((v) => (
							<tr key={v.visitorId}>
								<td title={v.page}>{v.title || v.page || "—"}</td>
								<td>{v.referrer || "—"}</td>
								<td>{elapsed(Date.now() - v.timeOnSite)}</td>
								<td>
									{v.banned
										? "Banned"
										: v.chatting
											? "Chatting"
											: v.connected
												? "Browsing"
												: "Left"}
								</td>
								<td>
									<button
										type="button"
										disabled={!v.connected || v.chatting || v.banned}
										onClick={() =>
											setActing({ visitorId: v.visitorId, action: "invite" })
										}
										aria-label={`Invite the visitor on ${v.title || v.page || "the site"}`}
									>
										Invite
									</button>{" "}
									<button
										type="button"
										class="danger"
										disabled={v.banned}
										onClick={() =>
											setActing({ visitorId: v.visitorId, action: "ban" })
										}
										aria-label={`Ban the visitor on ${v.title || v.page || "the site"}`}
									>
										Ban
									</button>
									{acting?.visitorId === v.visitorId &&
										(acting.action === "invite" ? (
											<InviteForm
												state={state}
												visitorId={v.visitorId}
												onDone={done}
												onCancel={() => setActing(undefined)}
											/>
										) : (
											<BanForm
												state={state}
												visitorId={v.visitorId}
												onDone={done}
												onCancel={() => setActing(undefined)}
											/>
										))}
								</td>
							</tr>
						))}
					</tbody>
				</table>
			)}
		</section>
	);
}

interface FormProps {
	state: ConsoleState;
	visitorId: string;
	onDone: (message: string) => void;
	onCancel: () => void;
}

function InviteForm({ state, visitorId, onDone, onCancel }: FormProps) {
	const [error, setError] = useState("");
	const first = useFirstFocus();
	const submit = async (event: Event) => {
		event.preventDefault();
		const message = String(
			new FormData(event.currentTarget as HTMLFormElement).get("message")
		).trim();
		try {
			const { delivered } = await state.api.invite(visitorId, message);
			onDone(
				delivered > 0
					? "Invitation sent."
					: "The visitor has left: the invitation reached no page."
			);
		} catch (failure) {
			setError(describeError(failure));
		}
	};
	return (
		<form
			class="inline-form"
			onSubmit={submit}
			onKeyDown={(e) => e.key === "Escape" && onCancel()}
		>
			<label>
				Invitation message
				<input
					name="message"
					required
					maxLength={1000}
					defaultValue="Hello! Can I help you with anything?"
					ref={first}
				/>
			</label>
			<button type="submit">Send invitation</button>
			<button type="button" onClick={onCancel}>
				Cancel
			</button>
			<ErrorNote error={error} />
		</form>
	);
}

function BanForm({ state, visitorId, onDone, onCancel }: FormProps) {
	const [error, setError] = useState("");
	const first = useFirstFocus();
	const submit = async (event: Event) => {
		event.preventDefault();
		const form = new FormData(event.currentTarget as HTMLFormElement);
		const reason = String(form.get("reason")).trim();
		const minutes = Number(form.get("minutes"));
		try {
			await state.api.ban(visitorId, {
				...(reason ? { reason } : {}),
				...(minutes > 0 ? { minutes } : {}),
			});
			onDone("Visitor banned.");
		} catch (failure) {
			setError(describeError(failure));
		}
	};
	return (
		<form
			class="inline-form"
			onSubmit={submit}
			onKeyDown={(e) => e.key === "Escape" && onCancel()}
		>
			<label>
				Reason
				<input name="reason" maxLength={500} ref={first} />
			</label>
			<label>
				Duration
				<select name="minutes" defaultValue="1440">
					<option value="60">1 hour</option>
					<option value="1440">1 day</option>
					<option value="10080">1 week</option>
					<option value="0">Until lifted</option>
				</select>
			</label>
			<button type="submit" class="danger">
				Ban visitor
			</button>
			<button type="button" onClick={onCancel}>
				Cancel
			</button>
			<ErrorNote error={error} />
		</form>
	);
}

/** Focus goes into a form when it opens, once. */
function useFirstFocus() {
	const first = useRef<HTMLInputElement>(null);
	useEffect(() => first.current?.focus(), []);
	return first;
}
