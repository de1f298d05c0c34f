/** The agent's preferences: sound and browser notifications (kept in this browser and saved to the server, agent.savePreference). */
import { useState } from "preact/hooks";
import { keepPreferences, notificationsState } from "./alerts.ts";
import { describeError } from "./api.ts";
import type { Preferences } from "./alerts.ts";
import type { ConsoleState } from "./state.ts";

export function PreferencesView({ state }: { state: ConsoleState }) {
	const [permission, setPermission] = useState(notificationsState());
	const [message, setMessage] = useState("");
	const [error, setError] = useState("");
	const save = async (event: Event) => {
		event.preventDefault();
		const form = new FormData(event.currentTarget as HTMLFormElement);
		const preferences: Preferences = {
			sound: form.get("sound") === "on",
			notifications: form.get("notifications") === "on",
		};
		setError("");
		setMessage("");
		state.update(() => (state.preferences = preferences));
		keepPreferences(state.me.id, preferences);
		try {
			await state.api.savePreferences({ ...preferences });
			setMessage("Preferences saved.");
		} catch (failure) {
			setError(
				`Kept in this browser, but not saved on the server: ${describeError(failure)}`
			);
		}
	};
	const ask = async () => setPermission(await Notification.requestPermission());
	return (
		<section aria-labelledby="preferences-title">
			<h2 id="preferences-title">Preferences</h2>
			<form onSubmit={save} class="preferences">
				<Checkbox
					name="sound"
					checked={state.preferences.sound}
					label="Play a sound for new chats and messages"
				/>
				<Checkbox
					name="notifications"
					checked={state.preferences.notifications}
					label="Show browser notifications"
				/>
				<p class="hint">
					{permission === "granted"
						? "This browser allows notifications."
						: permission === "denied"
							? "This browser blocks notifications from the console; allow them in the site settings."
							: permission === "unsupported"
								? "This browser has no notifications."
								: "Notifications need your permission."}{" "}
					{permission === "default" && (
						<button type="button" onClick={() => void ask()}>
							Allow notifications
						</button>
					)}
				</p>
				<button type="submit">Save preferences</button>
				{message && <p role="status">{message}</p>}
				{error && (
					<p role="alert" class="error">
						{error}
					</p>
				)}
			</form>
		</section>
	);
}

function Checkbox(props: { name: string; checked: boolean; label: string }) {
	return (
		<label>
			<input type="checkbox" name={props.name} defaultChecked={props.checked} />{" "}
			{props.label}
		</label>
	);
}
