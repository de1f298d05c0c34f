import { roomFailure } from "../src/errors.ts";
import { siteDispatcher } from "./room-contract.ts";
import type { RoomFailure } from "../src/errors.ts";
import type { ChatMeta } from "../src/protocol/chat-state.ts";
import type { BanInForce } from "./visitor-model.ts";

/**
 * A room's side of bans (SPEC §7): a banned visitor's sends are `403 banned`.
 *
 * The send path does not call the dispatcher per message. The choice: the dispatcher pushes a new
 * ban to the rooms of the visitor's chats it knows (`ChatRoom.visitorBanned`), and a room asks the
 * dispatcher once per chat, when it has not heard of the visitor yet (a room woken from storage or
 * rebuilt; a new chat needs no question, the Worker checked before starting it). Outside the push, a
 * room's answer is refreshed in the background at most every RECHECK_MS, which bounds how long a ban
 * can miss a chat the dispatcher did not know of (one it lost in memory mode). Asking happens
 * before the send enters the room's write queue, so the room holds nothing while it waits.
 */

const RECHECK_MS = 60_000;
/** A dispatcher that did not answer is asked again this much later; meanwhile sends are let through. */
const RETRY_MS = 5_000;

export class RoomBans {
	private ban: BanInForce | null = null;
	/** When the dispatcher's word was last had; 0 = never. */
	private checkedAt = 0;
	private asking: Promise<void> | undefined;
	/** An answer asked for before the last push is older than the push, and is dropped. */
	private pushedAt = 0;

	constructor(
		private readonly env: Env,
		private readonly waitUntil: (promise: Promise<unknown>) => void
	) {}

	/** The Worker checked the visitor right before it started this chat (or its visitorId is new). */
	checkedNow(): void {
		this.checkedAt = Date.now();
	}

	/** The dispatcher's push. */
	banned(ban: BanInForce): void {
		this.ban = ban;
		this.checkedAt = this.pushedAt = Date.now();
	}

	/** Before a visitor's send: the first time the room waits for the dispatcher's word, later it only refreshes it. */
	async ready(meta: ChatMeta): Promise<void> {
		if (this.checkedAt === 0) return this.ask(meta);
		if (Date.now() - this.checkedAt >= RECHECK_MS)
			this.waitUntil(this.ask(meta));
	}

	/** Inside the send's write: `403 banned` while a ban is in force. */
	refusal(): RoomFailure | undefined {
		if (!this.ban || (this.ban.until !== null && this.ban.until <= Date.now()))
			return undefined;
		const until =
			this.ban.until === null
				? ""
				: ` until ${new Date(this.ban.until).toISOString()}`;
		return roomFailure(403, "banned", `you may not chat on this site${until}`);
	}

	private ask(meta: ChatMeta): Promise<void> {
		const askedAt = Date.now();
		this.asking ??= siteDispatcher(this.env, meta.siteId)
			.visitorBan(meta.siteId, meta.visitorId)
			.then((ban) => {
				if (this.pushedAt >= askedAt) return;
				this.ban = ban;
				this.checkedAt = Date.now();
			})
			.catch((error) => {
				console.warn(
					"ChatRoom: the dispatcher did not say whether the visitor is banned",
					meta.chatId,
					error
				);
				this.checkedAt = Date.now() - RECHECK_MS + RETRY_MS;
			})
			.finally(() => (this.asking = undefined));
		return this.asking;
	}
}
