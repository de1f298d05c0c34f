import { roomFailure } from "../src/errors.ts";
import { parseJsonText } from "../src/protocol/json-text.ts";
import { VisitorHelloFrameSchema } from "../src/protocol/visitors.ts";
import {
	CLOSE_FORBIDDEN,
	CLOSE_NO_HELLO,
	CLOSE_UNAUTHORIZED,
	HELLO_TIMEOUT_MS,
	MAX_HELLO_CHARS,
} from "../src/protocol/ws.ts";
import { openVisitorState } from "../src/security/visitor-state.ts";
import { getSiteConfig } from "../src/site-config-cache.ts";
import { acceptTagged } from "./dispatcher-upgrade.ts";
import { summaries, track } from "./visitor-model.ts";
import type { RoomFailure } from "../src/errors.ts";
import type {
	VisitorServerFrame,
	VisitorSummary,
} from "../src/protocol/visitors.ts";
import type { DispatcherBans } from "./dispatcher-bans.ts";
import type { TrackedVisitor, Visit } from "./visitor-model.ts";

/**
 * Tracked visitors on the SiteDispatcher (SPEC §4, §7): the bounded list of live visitors (in the
 * object's storage in durable mode, in memory otherwise) and their page sockets, hibernating and
 * tagged PAGE_SOCKET_TAG so that they never mix with agent consoles. A page socket's hello
 * re-announces its visit, and its attachment keeps the visit, so a dispatcher that lost its state
 * has the list back from the open pages (at their next hello, or from the attachments on waking).
 */

export const PAGE_SOCKET_TAG = "visitor";
/** The Worker sets it to `visitor` on a page socket's upgrade; an agent console's upgrade has none. */
export const DISPATCHER_SOCKET_HEADER = "X-Dispatcher-Socket";
/** SPEC §6: no `hello` within 10 s. */
/** A visitor pushed off the list: a normal close, which a page does not retry before its next page view. */
const CLOSE_UNTRACKED = 1000;
/**
 * A chat the invited visitor starts this soon after an invitation answers it (SPEC §7): it goes to the
 * inviting agent while that agent is online with room. The widget shows the invitation until the page
 * is left, so the answer comes from the page socket that took it.
 */
export const INVITATION_ANSWER_MS = 30 * 60_000;
/** Attachments hold at most 2 KB: the visit they keep is cut to fit (the list keeps it whole). */
const ATTACHED_CHARS = { page: 400, title: 120, referrer: 300 } as const;
const VISITOR = "visitor:";

interface PageAttachment {
	siteId: string;
	connectedAt: number;
	/** Set by a valid hello. */
	visitor?: TrackedVisitor;
	/** The last invitation this page took: who sent it, and when. */
	invitedBy?: { agentId: string; at: number };
}

const attachmentOf = (ws: WebSocket) =>
	ws.deserializeAttachment() as PageAttachment;

function sendFrame(ws: WebSocket, frame: VisitorServerFrame): void {
	try {
		ws.send(JSON.stringify(frame));
	} catch {
		// closed meanwhile: the page opens a new socket on its next page view
	}
}

function close(ws: WebSocket, code: number, reason: string): void {
	try {
		ws.close(code, reason);
	} catch {
		// already closed
	}
}

export class DispatcherVisitors {
	/** Least recently seen first (see visitor-model.ts `track`). */
	private readonly list = new Map<string, TrackedVisitor>();

	/** `storage` is undefined in memory mode. */
	constructor(
		private readonly ctx: DurableObjectState,
		private readonly env: Env,
		private readonly storage: DurableObjectStorage | undefined,
		private readonly bans: DispatcherBans
	) {
		const known: TrackedVisitor[] = storage
			? [...storage.kv.list<TrackedVisitor>({ prefix: VISITOR })].map(
					([, v]) => v
				)
			: [];
		// Woken without its state (memory mode): the open pages bring their visits back.
		if (!storage)
			for (const { attachment } of this.pages())
				if (attachment.visitor) known.push(attachment.visitor);
		// Oldest first, as `track` keeps it; a visitor with several pages open is one entry.
		for (const visitor of known.sort((a, b) => a.lastSeen - b.lastSeen)) {
			const firstSeen = Math.min(
				visitor.firstSeen,
				this.list.get(visitor.visitorId)?.firstSeen ?? Infinity
			);
			this.list.delete(visitor.visitorId);
			this.list.set(visitor.visitorId, { ...visitor, firstSeen });
		}
	}

	owns(ws: WebSocket): boolean {
		return this.ctx.getTags(ws).includes(PAGE_SOCKET_TAG);
	}

	/** A page view (`POST …/visits`) or a page socket's hello: the visitor is tracked, the oldest make room. */
	track(visit: Visit, maxTracked: number): { tracked: boolean } {
		const now = Date.now();
		const { tracked, dropped } = track(
			this.list,
			visit,
			maxTracked,
			now,
			this.connected()
		);
		if (tracked)
			this.storage?.kv.put(
				VISITOR + visit.visitorId,
				this.list.get(visit.visitorId)
			);
		for (const visitorId of dropped) {
			this.storage?.kv.delete(VISITOR + visitorId);
			for (const ws of this.socketsOf(visitorId))
				close(ws, CLOSE_UNTRACKED, "no longer tracked");
		}
		return { tracked };
	}

	/** The tracked list as agents see it (SPEC §4): `chatting` names the visitors with a live chat. */
	visitorList(chatting: ReadonlySet<string>): VisitorSummary[] {
		return summaries(this.list.values(), Date.now(), {
			connected: this.connected(),
			chatting,
			banned: (id) => this.bans.known(id) !== undefined,
		});
	}

	/** SPEC §7: only a tracked visitor whose page socket is open can be invited; every one of its pages is told. */
	async invite(
		siteId: string,
		visitorId: string,
		agent: { id: string; name: string },
		message: string
	): Promise<{ delivered: number } | RoomFailure> {
		if (!this.list.has(visitorId))
			return roomFailure(
				404,
				"not_found",
				"that visitor is not on the tracked list"
			);
		if (await this.bans.check(siteId, visitorId))
			return roomFailure(409, "conflict", "that visitor is banned");
		const sockets = this.socketsOf(visitorId);
		if (sockets.length === 0)
			return roomFailure(409, "conflict", "that visitor has no page open");
		// Kept with each page socket, so that the answer finds its agent after the dispatcher hibernated.
		const invitedBy = { agentId: agent.id, at: Date.now() };
		for (const ws of sockets) {
			ws.serializeAttachment({
				...attachmentOf(ws),
				invitedBy,
			} satisfies PageAttachment);
			sendFrame(ws, { type: "invitation", agentName: agent.name, message });
		}
		return { delivered: sockets.length };
	}

	/** The agent whose invitation a chat of this visitor answers: the latest one its open pages took, if recent. */
	invitedBy(visitorId: string, now: number): string | undefined {
		let latest: { agentId: string; at: number } | undefined;
		for (const { attachment } of this.pages())
			if (
				attachment.visitor?.visitorId === visitorId &&
				attachment.invitedBy &&
				now - attachment.invitedBy.at < INVITATION_ANSWER_MS &&
				attachment.invitedBy.at > (latest?.at ?? -Infinity)
			)
				latest = attachment.invitedBy;
		return latest?.agentId;
	}

	/** A banned visitor's pages are closed (SPEC §6: 4403 banned); it stays on the list, marked banned. */
	banned(visitorId: string): void {
		for (const ws of this.socketsOf(visitorId))
			close(ws, CLOSE_FORBIDDEN, "banned");
	}

	/** Handed over by the Worker, which checked the site and the address's upgrade rate. */
	upgrade(request: Request, siteId: string): Response {
		return acceptTagged(this.ctx, request, PAGE_SOCKET_TAG, (ws) =>
			ws.serializeAttachment({
				siteId,
				connectedAt: Date.now(),
			} satisfies PageAttachment)
		);
	}

	/** Before hello only a hello; after it a page has nothing to say but "ping" (answered by the runtime). */
	async receive(ws: WebSocket, raw: string | ArrayBuffer): Promise<void> {
		const attachment = attachmentOf(ws);
		if (attachment.visitor)
			return sendFrame(ws, {
				type: "error",
				error: {
					type: "invalid_request",
					message: "a page socket only listens after its hello",
				},
			});
		const text =
			typeof raw === "string" && raw.length <= MAX_HELLO_CHARS
				? parseJsonText(raw)
				: undefined;
		const hello = text?.ok
			? VisitorHelloFrameSchema.safeParse(text.value)
			: undefined;
		if (!hello?.success) return close(ws, CLOSE_UNAUTHORIZED, "hello first");
		const state = await openVisitorState(
			this.env,
			attachment.siteId,
			hello.data.visitorState
		);
		if (!state) return close(ws, CLOSE_UNAUTHORIZED, "invalid visitorState");
		if (await this.bans.check(attachment.siteId, state.visitorId))
			return close(ws, CLOSE_FORBIDDEN, "banned");
		const config = await getSiteConfig(this.env.SITE_CONFIG, attachment.siteId);
		// What the list knows of the visit wins; a dispatcher that lost it takes the page's word.
		const { title, referrer, page } = hello.data;
		const visit = this.list.get(state.visitorId) ?? {
			visitorId: state.visitorId,
			page,
			title,
			referrer,
		};
		const { tracked } = this.track(
			visit,
			config?.limits.maxTrackedVisitors ?? 0
		);
		if (!tracked)
			return close(ws, CLOSE_UNTRACKED, "this site tracks no visitors");
		if (ws.readyState !== WebSocket.OPEN) return;
		ws.serializeAttachment({
			...attachment,
			visitor: attached(this.list.get(state.visitorId)!),
		} satisfies PageAttachment);
		sendFrame(ws, { type: "tracking", visitorId: state.visitorId });
	}

	/** The page went away: the visitor was there until now, and counts as gone once VISITOR_GONE_MS pass without a new page. */
	closed(ws: WebSocket, code: number): void {
		const { visitor } = attachmentOf(ws);
		close(ws, code === 1005 || code === 1006 ? 1000 : code, "closing");
		if (!visitor) return;
		const known = this.list.get(visitor.visitorId);
		if (!known) return;
		const seen = { ...known, lastSeen: Date.now() };
		this.list.delete(visitor.visitorId);
		this.list.set(visitor.visitorId, seen);
		this.storage?.kv.put(VISITOR + visitor.visitorId, seen);
	}

	/** Page sockets without a hello after 10 s are closed (SPEC §5, §6). */
	closeLate(): void {
		const now = Date.now();
		for (const { ws, attachment } of this.pages())
			if (
				!attachment.visitor &&
				attachment.connectedAt + HELLO_TIMEOUT_MS <= now
			)
				close(ws, CLOSE_NO_HELLO, "no hello");
	}

	nextDeadline(): number {
		let next = Infinity;
		for (const { attachment } of this.pages())
			if (!attachment.visitor)
				next = Math.min(next, attachment.connectedAt + HELLO_TIMEOUT_MS);
		return next;
	}

	/** Whether a visitor has a page socket open, read from the sockets once per call and only if asked. */
	private connected(): (visitorId: string) => boolean {
		let open: Set<string> | undefined;
		return (visitorId) => {
			open ??= new Set(
				this.pages().flatMap(({ attachment }) =>
					attachment.visitor ? [attachment.visitor.visitorId] : []
				)
			);
			return open.has(visitorId);
		};
	}

	private socketsOf(visitorId: string): WebSocket[] {
		return this.pages()
			.filter(({ attachment }) => attachment.visitor?.visitorId === visitorId)
			.map(({ ws }) => ws);
	}

	private pages(): { ws: WebSocket; attachment: PageAttachment }[] {
		return this.ctx
			.getWebSockets(PAGE_SOCKET_TAG)
			.filter((ws) => ws.readyState === WebSocket.OPEN)
			.map((ws) => ({ ws, attachment: attachmentOf(ws) }));
	}
}

/** The visit cut to what an attachment can hold. */
function attached(visitor: TrackedVisitor): TrackedVisitor {
	const cut = { ...visitor };
	for (const field of ["page", "title", "referrer"] as const)
		if (cut[field] !== undefined)
			cut[field] = cut[field].slice(0, ATTACHED_CHARS[field]);
	return cut;
}
