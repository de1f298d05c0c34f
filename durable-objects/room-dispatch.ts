/**
 * A room's side of SPEC §7: it tells the site's dispatcher about its chat (waiting, its agents, ended)
 * outside its own writes, and tries again (the room's alarm re-registers a waiting chat every 30 s,
 * which is also how a dispatcher that lost its state gets its queue back).
 *
 * The room has the last word on who has the chat, and the dispatcher hears it when it may not know:
 * when a client's copy changed the agents (a rebuild that ended a split brain, or brought a transfer
 * made on another deployment), and from the alarm while an agent of the chat is not heard from (its
 * console may never have had the `assigned` frame: the dispatcher that sent it was evicted).
 */
import { REREGISTER_EVERY_MS } from "./dispatch-model.ts";
import { siteDispatcher } from "./room-contract.ts";
import type { ChatMeta } from "../src/protocol/chat-state.ts";
import type { Clock } from "./clock.ts";
import type { RoomAgents, WaitingChat } from "./dispatch-model.ts";

const ENDED_TRIES = 3;

export class RoomDispatch {
	/** The chat's place in the queue as the dispatcher last said (1 = next); only while it waits. */
	queuePosition: number | undefined;

	/** When each agent of the chat last called it (an answer it could use): one that does has the chat. */
	private readonly heard = new Map<string, number>();

	constructor(
		private readonly env: Env,
		private readonly clock: Clock
	) {}

	heardFrom(agentId: string): void {
		this.heard.set(agentId, this.clock.now());
	}

	/** Agents of the live chat not heard from lately, and without an open socket on it. */
	unheard(meta: ChatMeta, connected: ReadonlySet<string>): string[] {
		if (meta.status !== "chatting") return [];
		const since = this.clock.now() - REREGISTER_EVERY_MS;
		return meta.agentIds.filter(
			(id) => !connected.has(id) && (this.heard.get(id) ?? -Infinity) < since
		);
	}

	/**
	 * The dispatcher asks the room who has the chat (ChatRoom.agentsNow), in turn with its own
	 * assignments, so an answer never undoes a newer one. False when it could not be reached: the alarm tells it again.
	 */
	async agentsChanged(meta: ChatMeta): Promise<boolean> {
		try {
			await siteDispatcher(this.env, meta.siteId).chatAgentsChanged(
				meta.siteId,
				meta.chatId
			);
			return true;
		} catch (error) {
			console.warn(
				"ChatRoom: the dispatcher did not hear the chat's agents",
				meta.chatId,
				error
			);
			return false;
		}
	}

	/** False when the dispatcher could not be reached: the alarm tries again. */
	async register(meta: ChatMeta, restored = false): Promise<boolean> {
		try {
			const { queuePosition } = await siteDispatcher(
				this.env,
				meta.siteId
			).chatWaiting(meta.siteId, {
				...waitingChatOf(meta),
				...(restored ? { restored } : {}),
			});
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

/** Who has the chat, as the dispatcher asks it (ChatRoom.agentsNow); undefined while the room has no chat. */
export function roomAgentsOf(
	meta: ChatMeta | undefined,
	chatState: string | undefined
): RoomAgents | undefined {
	if (!meta || !chatState) return undefined;
	return {
		status: meta.status,
		agentIds: meta.agentIds,
		pastAgentIds: meta.pastAgentIds ?? [],
		chatState,
	};
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
