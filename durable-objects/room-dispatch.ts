/**
 * A room's side of SPEC §7: it tells the site's dispatcher about its chat (waiting, ended) outside
 * its own writes, and tries again (the room's alarm re-registers a waiting chat every 30 s, which
 * is also how a dispatcher that lost its state gets its queue back).
 */
import { siteDispatcher } from "./room-contract.ts";
import type { ChatMeta } from "../src/protocol/chat-state.ts";
import type { WaitingChat } from "./dispatch-model.ts";

const ENDED_TRIES = 3;

export class RoomDispatch {
	/** The chat's place in the queue as the dispatcher last said (1 = next); only while it waits. */
	queuePosition: number | undefined;

	constructor(private readonly env: Env) {}

	/** False when the dispatcher could not be reached: the alarm tries again. */
	async register(meta: ChatMeta): Promise<boolean> {
		try {
			const { queuePosition } = await siteDispatcher(
				this.env,
				meta.siteId
			).chatWaiting(meta.siteId, waitingChatOf(meta));
			this.queuePosition = queuePosition;
			return true;
		} catch (error) {
			console.warn(
				"ChatRoom: the dispatcher did not take the waiting chat",
				meta.chatId,
				error
			);
			return false;
		}
	}

	/** Frees the chat's agents for the next chat. A console's next hello repairs a load this misses. */
	async ended(meta: ChatMeta): Promise<void> {
		this.queuePosition = undefined;
		for (let attempt = 0; attempt < ENDED_TRIES; attempt++) {
			try {
				return await siteDispatcher(this.env, meta.siteId).chatEnded(
					meta.siteId,
					meta.chatId
				);
			} catch (error) {
				if (attempt === ENDED_TRIES - 1)
					console.warn(
						"ChatRoom: the dispatcher did not hear of the end",
						meta.chatId,
						error
					);
				await new Promise((resolve) => setTimeout(resolve, 500 * 2 ** attempt));
			}
		}
	}
}

export function waitingChatOf(meta: ChatMeta): WaitingChat {
	const name = meta.visitor.name ?? meta.prechat?.name;
	return {
		chatId: meta.chatId,
		visitorId: meta.visitorId,
		...(typeof name === "string" ? { visitorName: name } : {}),
		...(meta.department ? { department: meta.department } : {}),
		requestTime: meta.beginTime,
		...(meta.lastAgentId ? { lastAgentId: meta.lastAgentId } : {}),
	};
}
