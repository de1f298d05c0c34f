/**
 * How the console gets an agent's attention (SPEC §9): a short tone and, when the browser allows
 * it, a system notification; both can be turned off in the preferences.
 */
export interface Preferences {
	sound: boolean;
	notifications: boolean;
}

const key = (agentId: string) => `livechat-console:preferences:${agentId}`;

export function loadPreferences(agentId: string): Preferences {
	try {
		return {
			sound: true,
			notifications: true,
			...(JSON.parse(
				localStorage.getItem(key(agentId)) ?? "{}"
			) as Partial<Preferences>),
		};
	} catch {
		return { sound: true, notifications: true };
	}
}

export function keepPreferences(
	agentId: string,
	preferences: Preferences
): void {
	try {
		localStorage.setItem(key(agentId), JSON.stringify(preferences));
	} catch {
		// Not kept across visits; the server has them (agent.savePreference).
	}
}

let audio: AudioContext | undefined;

/** A two-note chime for a new chat, one soft note for a message in a chat not in view. */
function chime(level: "loud" | "quiet"): void {
	try {
		audio ??= new AudioContext();
		const notes = level === "loud" ? [880, 1320] : [660];
		notes.forEach((frequency, i) => {
			const oscillator = audio!.createOscillator();
			const gain = audio!.createGain();
			oscillator.frequency.value = frequency;
			gain.gain.value = level === "loud" ? 0.2 : 0.08;
			oscillator.connect(gain).connect(audio!.destination);
			const at = audio!.currentTime + i * 0.15;
			oscillator.start(at);
			oscillator.stop(at + 0.12);
		});
	} catch {
		// No audio in this browser: the notification and the live region remain.
	}
}

export function alert(
	preferences: Preferences,
	title: string,
	body: string,
	level: "loud" | "quiet" = "loud"
): void {
	if (preferences.sound) chime(level);
	// Only when the agent looks elsewhere: in view, the console itself shows it.
	if (level === "loud" || document.hidden) notify(preferences, title, body);
}

function notify(preferences: Preferences, title: string, body: string): void {
	if (
		!preferences.notifications ||
		typeof Notification === "undefined" ||
		Notification.permission !== "granted"
	)
		return;
	try {
		const notification = new Notification(title, {
			body,
			tag: "livechat-console",
		});
		notification.onclick = () => window.focus();
	} catch {
		// Some browsers allow notifications only from a service worker.
	}
}

export function notificationsState(): NotificationPermission | "unsupported" {
	return typeof Notification === "undefined"
		? "unsupported"
		: Notification.permission;
}
