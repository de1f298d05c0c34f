/**
 * The chat window's forms: the prechat form's fields and the visitor's known identity, the
 * offline form, the form checks said in words, and the rating offered when a chat has ended.
 */
import { LiveChatClient } from "../client/live-chat-client.ts";
import {
	$,
	baseUrls,
	clearError,
	ctx,
	ended,
	greeting,
	human,
	notice,
	offline,
	panel,
	prechat,
	ratingBox,
	show,
	showError,
	siteId,
	stars,
	typingView,
} from "./chat-window-panel.ts";
import { state } from "./chat-window-state.ts";
import type { VisitorIdentity } from "./widget-shared.ts";

export function buildPrechatFields(): void {
	const box = $<HTMLElement>(".fields");
	box.replaceChildren();
	for (const field of state.config.prechat.fields) {
		const label = document.createElement("label");
		label.append(`${field.label}${field.required ? "" : " (optional)"} `);
		const input = document.createElement("input");
		input.name = `prechat:${field.name}`;
		input.maxLength = 500;
		input.required = field.required;
		label.append(input);
		box.append(label);
	}
	if (state.config.departments?.length) {
		const label = document.createElement("label");
		label.append("Department ");
		// The visitor says which: chosen for them, every visitor who does not look would land in the first.
		const select = document.createElement("select");
		select.name = "department";
		select.required = true;
		select.append(new Option("Choose…", ""));
		for (const name of state.config.departments)
			select.append(new Option(name, name));
		label.append(select);
		box.append(label);
	}
}

export const identityKey = `visitor:${siteId}`;
export async function knownIdentity(): Promise<VisitorIdentity> {
	const kept = await state.store
		.loadValue?.(identityKey)
		.catch(() => undefined);
	const stored = kept ? (JSON.parse(kept) as VisitorIdentity) : {};
	return { ...stored, ...ctx!.identity };
}

/** Empty fields take the known name and email; with `fromPage`, the page's identify() wins over what is typed. */
export function fillIdentity(form: HTMLFormElement, fromPage = false): void {
	void knownIdentity().then((who) => {
		for (const key of ["name", "email"] as const) {
			const input = form.elements.namedItem(key) as HTMLInputElement | null;
			const value = fromPage ? ctx!.identity[key] : who[key];
			if (input && (fromPage || !input.value) && value) input.value = value;
		}
	});
}

/** The form's own checks, said in words (and announced): the browser's bubbles are not read out everywhere. */
export function invalid(form: HTMLFormElement): boolean {
	const bad = Array.from(
		form.querySelectorAll<
			HTMLInputElement | HTMLTextAreaElement | HTMLSelectElement
		>("input, textarea, select")
	).find((i) => !i.checkValidity());
	if (!bad) return false;
	const label =
		bad.closest("label")?.firstChild?.textContent?.trim() ?? "This field";
	showError(
		bad.validity.valueMissing
			? `${label.replace(/ \(optional\)$/, "")} is needed.`
			: `${label} does not look right.`
	);
	bad.setAttribute("aria-invalid", "true");
	bad.focus();
	return true;
}

offline.addEventListener("submit", async (event) => {
	event.preventDefault();
	if (invalid(offline)) return;
	const data = new FormData(offline);
	const text = (key: string) => String(data.get(key) ?? "").trim() || undefined;
	try {
		await LiveChatClient.submitOfflineMessage(
			{ baseUrls, siteId },
			{ name: text("name"), email: text("email")!, message: text("message")! }
		);
		clearError();
		thanked = true;
		offline.replaceChildren(
			Object.assign(document.createElement("p"), {
				className: "thanks",
				textContent:
					"Thank you! Your message has been sent. We will answer by email.",
			})
		);
		notice.textContent = "Your message has been sent.";
	} catch (error) {
		showError(human(error, "offline"));
	}
});

export function noteStatus(): void {
	const status = state.client?.status;
	const position = state.client?.queuePosition;
	// The end is not said here: the log and the end of the panel say it (show()).
	notice.textContent =
		status === "waiting"
			? `Waiting for an agent${position ? `: you are number ${position} in the queue` : "…"}`
			: "";
	if (status === "ended") {
		typingView.hidden = true;
		state.client?.disconnect();
		buildRating();
	}
}

const offlineParts = Array.from(offline.children);
/** The offline form was sent: its thanks show until a chat is offered again. */
let thanked = false;
let recheck: ReturnType<typeof setInterval> | undefined;
/** How often the offline form asks whether someone is available again, while the panel is open. */
const RECHECK_MS = 15_000;

const availableNow = () =>
	fetch(`${baseUrls[0]}/v1/sites/${siteId}/availability`)
		.then((r) =>
			r.ok ? (r.json() as Promise<{ online: boolean }>) : { online: true }
		)
		.then(
			(a) => a.online,
			() => true
		);

/** No chat open: the prechat form, or the offline form when no one is available. */
export async function offerNewChat(): Promise<void> {
	state.client = undefined;
	clearInterval(recheck);
	const wasOffline = !offline.hidden;
	notice.textContent = "";
	if (!(await availableNow()) && state.config.offlineForm) {
		if (thanked) {
			offline.replaceChildren(...offlineParts);
			offline.reset();
			thanked = false;
		}
		fillIdentity(offline);
		show("offline");
		recheck = setInterval(() => void recheckAvailability(), RECHECK_MS);
	} else {
		if (wasOffline)
			notice.textContent = "Someone is available now: chat with us.";
		fillIdentity(prechat);
		showInvitation();
		show("prechat");
	}
}

/**
 * The offline form (or its thanks) while someone comes online: a chat is offered instead. Not while
 * the visitor is writing an offline message, which would be lost.
 */
export async function recheckAvailability(): Promise<void> {
	if (offline.hidden || panel.hidden) return;
	const writing =
		!thanked &&
		!!(offline.elements.namedItem("message") as HTMLTextAreaElement).value;
	if (!writing && (await availableNow()) && !offline.hidden)
		await offerNewChat();
}

export function showInvitation(): void {
	if (state.invitation)
		greeting.textContent = `${state.invitation.agentName ? `${state.invitation.agentName}: ` : ""}${state.invitation.message}`;
	greeting.hidden = prechat.hidden || !greeting.textContent;
}

/** Stars to rate the chat that has ended, where the site asks for a rating. */
function buildRating(): void {
	const box = ratingBox;
	box.hidden = !state.config.rating;
	if (stars.childElementCount > 0 || !state.config.rating) return;
	for (let n = 1; n <= 5; n++) {
		const button = document.createElement("button");
		button.type = "button";
		button.textContent = "★";
		button.setAttribute("aria-label", `${n} out of 5`);
		button.addEventListener("click", async () => {
			try {
				await state.client!.rate(n);
				box.replaceChildren(
					Object.assign(document.createElement("p"), {
						textContent: "Thank you for your feedback!",
					})
				);
				notice.textContent = "Thank you for your feedback!";
				ended.querySelector<HTMLElement>(".restart")!.focus();
			} catch (error) {
				showError(human(error, "rate"));
			}
		});
		stars.append(button);
	}
}
