/** The agent console at /console (SPEC §9): sign in, then the shell with the queue, chat tabs and tools. */
import { render } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import { describeError } from "./api.ts";
import { loadSession, saveSession, signIn, signOut } from "./session.ts";
import { Shell } from "./shell.tsx";
import { ConsoleState } from "./state.ts";
import type { Session } from "./session.ts";

function Login({
	onSignedIn,
	notice,
}: {
	onSignedIn: (session: Session) => void;
	notice?: string;
}) {
	const [error, setError] = useState(notice ?? "");
	const [busy, setBusy] = useState(false);
	const email = useRef<HTMLInputElement>(null);
	useEffect(() => email.current?.focus(), []);
	const siteId = new URLSearchParams(location.search).get("site") ?? "demo";
	const submit = async (event: Event) => {
		event.preventDefault();
		const form = new FormData(event.currentTarget as HTMLFormElement);
		setBusy(true);
		setError("");
		try {
			onSignedIn(
				await signIn(
					String(form.get("site")),
					String(form.get("email")),
					String(form.get("password"))
				)
			);
		} catch (failure) {
			// At sign-in, "unauthorized" is the password, not an expired session.
			const refused =
				failure instanceof Error &&
				"type" in failure &&
				failure.type === "unauthorized";
			setError(refused ? "Wrong email or password." : describeError(failure));
			setBusy(false);
		}
	};
	return (
		<main class="login">
			<form onSubmit={submit} aria-labelledby="login-title">
				<h1 id="login-title">Agent console</h1>
				<label>
					Site
					<input
						name="site"
						required
						defaultValue={siteId}
						autoComplete="organization"
					/>
				</label>
				<label>
					Email
					<input
						ref={email}
						name="email"
						type="email"
						required
						autoComplete="username"
					/>
				</label>
				<label>
					Password
					<input
						name="password"
						type="password"
						required
						autoComplete="current-password"
					/>
				</label>
				{error && (
					<p role="alert" class="error">
						{error}
					</p>
				)}
				<button type="submit" disabled={busy}>
					{busy ? "Signing in…" : "Sign in"}
				</button>
			</form>
		</main>
	);
}

function App() {
	const [state, setState] = useState<ConsoleState | undefined>();
	const [notice, setNotice] = useState<string | undefined>();
	const open = (session: Session) => {
		const next = new ConsoleState(session);
		setState(next);
		void next.start().catch((error: unknown) => next.fail(error));
	};
	useEffect(() => {
		const session = loadSession();
		if (session) open(session);
	}, []);
	const leave = (why?: string) => {
		// The agent's own "Sign out" (no reason given): offline at once, the token revoked, nothing kept here.
		if (state && why === undefined)
			void signOut(state.client).catch(() => undefined);
		state?.stop();
		saveSession(undefined);
		setState(undefined);
		setNotice(why);
	};
	if (!state) return <Login onSignedIn={open} notice={notice} />;
	return <Shell state={state} onSignOut={leave} />;
}

const root = document.getElementById("app")!;
root.textContent = ""; // the "Loading…" placeholder
render(<App />, root);
