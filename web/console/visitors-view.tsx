/** The site's tracked visitors (SPEC §7): page, time on site, chatting or not; invite one to chat, or ban one. */
import { useEffect, useRef, useState } from "preact/hooks";
import { describeError } from "./api.ts";
import { ErrorNote, ListHead } from "./list.tsx";
import { elapsed } from "./use-console.ts";
import type { VisitorSummary } from "./api.ts";
import type { ConsoleState } from "./state.ts";
import type { ComponentChildren } from "preact";

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
	const first = useFirstFocus();
	const submit = async (form: FormData) => {
		const message = String(form.get("message")).trim();
		const { delivered } = await state.api.invite(visitorId, message);
		onDone(
			delivered > 0
				? "Invitation sent."
				: "The visitor has left: the invitation reached no page."
		);
	};
	return (
		<InlineForm submit={submit} onCancel={onCancel}>
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
		</InlineForm>
	);
}

function BanForm({ state, visitorId, onDone, onCancel }: FormProps) {
	const first = useFirstFocus();
	const submit = async (form: FormData) => {
		const reason = String(form.get("reason")).trim();
		const minutes = Number(form.get("minutes"));
		await state.api.ban(visitorId, {
			...(reason ? { reason } : {}),
			...(minutes > 0 ? { minutes } : {}),
		});
		onDone("Visitor banned.");
	};
	return (
		<InlineForm submit={submit} onCancel={onCancel}>
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
		</InlineForm>
	);
}

/** A form under a visitor's row: Escape or Cancel closes it, and a failure is said under it. */
function InlineForm({
	submit,
	onCancel,
	children,
}: {
	submit: (form: FormData) => Promise<void>;
	onCancel: () => void;
	children: ComponentChildren;
}) {
	const [error, setError] = useState("");
	const onSubmit = async (event: Event) => {
		event.preventDefault();
		try {
			await submit(new FormData(event.currentTarget as HTMLFormElement));
		} catch (failure) {
			setError(describeError(failure));
		}
	};
	return (
		<form
			class="inline-form"
			onSubmit={onSubmit}
			onKeyDown={(e) => e.key === "Escape" && onCancel()}
		>
			{children}
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
