/** The loader's visit (SPEC §4, §7) and, for a tracked visitor, the page socket that brings invitations. */
import { readValue } from "./idb-store.ts";
import { visitorStateKey } from "./widget-shared.ts";

/** Records the visit; answers the visitorState (the known one when the service cannot be reached). */
export async function visit(
	siteId: string,
	siteUrl: string,
	db: Promise<IDBDatabase | undefined>,
	onInvitation: (agentName: string, message: string) => void
): Promise<string | undefined> {
	const database = await db;
	const known =
		database &&
		(await readValue(database, visitorStateKey(siteId)).catch(() => undefined));
	const body = {
		visitorState: known,
		page: location.href.slice(0, 2000),
		title: document.title.slice(0, 300),
		referrer: document.referrer.slice(0, 2000) || undefined,
	};
	const answer = await fetch(`${siteUrl}/visits`, {
		method: "POST",
		headers: { "Content-Type": "application/json" },
		body: JSON.stringify(body),
	})
		.then((r) =>
			r.ok
				? (r.json() as Promise<{ visitorState: string; tracked: boolean }>)
				: undefined
		)
		.catch(() => undefined);
	if (!answer) return known;
	if (database) {
		const tx = database.transaction("values", "readwrite");
		tx.objectStore("values").put(answer.visitorState, visitorStateKey(siteId));
	}
	if (answer.tracked)
		pageSocket(
			`${siteUrl.replace(/^http/, "ws")}/visitors/me/ws`,
			answer.visitorState,
			body,
			onInvitation
		);
	return answer.visitorState;
}

function pageSocket(
	url: string,
	state: string,
	page: Record<string, unknown>,
	onInvitation: (agentName: string, message: string) => void,
	failures = 0
): void {
	const ws = new WebSocket(url);
	ws.onopen = () =>
		ws.send(JSON.stringify({ type: "hello", ...page, visitorState: state }));
	ws.onmessage = (event) => {
		failures = 0;
		let frame: { type?: string; agentName?: string; message?: string };
		try {
			frame = JSON.parse(String(event.data));
		} catch {
			return;
		}
		if (frame.type !== "invitation" || !frame.message) return;
		onInvitation(frame.agentName ?? "", frame.message);
	};
	// 1000: pushed off the tracked list, not to be retried before the next page view; auth and bans neither.
	ws.onclose = (event) => {
		if (event.code === 1000 || event.code >= 4000) return;
		setTimeout(
			() => pageSocket(url, state, page, onInvitation, failures + 1),
			Math.min(60_000, 2000 * 2 ** failures)
		);
	};
}
