/**
 * The end of a chat (SPEC §3, §8): the end call, the agent's wrap-up, chat.end and chat.transcript
 * going out (retried by the alarm until the queue takes them), and the one alarm every deadline of
 * the room shares (sockets, the waiting chat's re-registration, owed announcements).
 */
import { eventId, publisher } from "../queues/publisher.ts";
import { roomFailure } from "../src/errors.ts";
import { ANNOUNCE_RETRY_MS } from "./chat-announcements.ts";
import { REREGISTER_EVERY_MS } from "./dispatch-model.ts";
import { lostChat } from "./room-contract.ts";
import type { Offsets } from "../src/protocol/chat.ts";
import type { Wrapup, WrapupPayload } from "../src/protocol/events.ts";
import type { Chains } from "./chat-chain.ts";
import type { Caller, RoomAnswer } from "./room-contract.ts";
import type { RoomCore } from "./room-core.ts";

export class RoomEnd {
	constructor(
		private readonly core: RoomCore,
		private readonly ctx: DurableObjectState
	) {}

	/** Idempotent: ending an ended chat announces its end again if that did not reach the queue yet. */
	async end(
		caller: Caller,
		offsets: Offsets,
		chains: Chains
	): Promise<RoomAnswer> {
		const core = this.core;
		const ended = await core.writes.run(async () => {
			const refused = await core.compare(caller, offsets, chains);
			if (refused) return refused;
			const meta = core.meta!;
			if (meta.status !== "ended") {
				const notice = await core.notice(caller, "The chat has ended");
				await core.commit(
					{ ...meta, v: meta.v + 1, status: "ended", endTime: notice.sendTime },
					[notice]
				);
			}
			return undefined;
		});
		if (ended) return ended;
		this.ctx.waitUntil(core.parts.dispatch.ended(core.meta!));
		// Outside the write queue: sends and rebuilds do not wait for the queue's answer.
		if (!(await this.announceEnd())) {
			return roomFailure(
				503,
				"unavailable",
				"the chat has ended but its end could not be queued yet; it is retried, and ending again retries now"
			);
		}
		return core.answer(offsets, [], caller);
	}

	/** A wrap-up by an agent of this chat: kept in the chat (for chat.end) and published as agent.wrapup. */
	async wrapup(
		caller: Caller,
		body: Wrapup
	): Promise<{ uniqueId: string } | RoomAnswer> {
		const core = this.core;
		const kept = await core.writes.run(
			async (): Promise<WrapupPayload | RoomAnswer> => {
				if (!core.meta) return lostChat();
				const forbidden =
					core.authorize(caller, core.meta) ??
					core.membership(caller, core.meta);
				if (forbidden) return forbidden;
				const { id: _id, ...wrapup } = body;
				if (core.meta.status !== "ended")
					await core.commit(
						{
							...core.meta,
							v: core.meta.v + 1,
							wrapup: { agentId: caller.id, ...wrapup },
						},
						[]
					);
				return {
					chatId: core.meta.chatId,
					siteId: core.meta.siteId,
					agentId: caller.id,
					category: body.category ?? null,
					comment: body.comment ?? null,
					wrappedUpAt: Date.now(),
				};
			}
		);
		if (!("wrappedUpAt" in kept)) return kept;
		const uniqueId = eventId(
			"agent.wrapup",
			[kept.siteId, kept.chatId, caller.id],
			body.id
		);
		await publisher(core.env, kept.siteId).publish(
			"agent.wrapup",
			uniqueId,
			kept
		);
		return { uniqueId };
	}

	/**
	 * An agent of the chat brought its copy, or found the room not behind it: the copy of a restored chat is
	 * whole now, so an end waiting for that may go out (outside the write queue, like every publish).
	 */
	noteCaughtUp(caller: Caller): void {
		if (
			caller.role === "agent" &&
			this.core.parts.announcements.agentCaughtUpNow() &&
			this.core.meta?.status === "ended"
		)
			this.ctx.waitUntil(this.announceEnd());
	}

	/** chat.end, when the chat has ended; then the alarm is kept only for what is left. */
	private async announceEnd(): Promise<boolean> {
		const { meta, log, parts } = this.core;
		if (meta?.status !== "ended") return true;
		const wasOut = parts.announcements.endPublished;
		const out = await parts.announcements.end(meta, log);
		if (!wasOut && parts.announcements.endPublished) await this.settleAlarm();
		return out;
	}

	/**
	 * Closes sockets past their deadline (no hello in 10 s, an expired token), retries a chat.end or
	 * chat.transcript the queue refused; then comes back for the next deadline, never for a past one.
	 */
	async alarm(): Promise<void> {
		const now = Date.now();
		const { parts } = this.core;
		parts.sockets.closeLate();
		const { meta } = this.core;
		if (meta?.status === "waiting") await parts.dispatch.register(meta);
		// An agent of the live chat that never called may not have it: its console missed the assignment.
		if (meta && parts.dispatch.unheard(meta, this.connectedAgents()).length > 0)
			await parts.dispatch.agentsChanged(meta);
		const endOwed = !(await this.announceEnd());
		const transcriptOwed =
			this.core.meta !== undefined &&
			!(await parts.announcements.transcript(this.core.meta, this.core.log));
		await this.settleAlarm(
			endOwed || transcriptOwed ? now + ANNOUNCE_RETRY_MS : Infinity
		);
	}

	private connectedAgents(): Set<string> {
		const ids = new Set<string>();
		for (const caller of this.core.parts.sockets.authenticated().values())
			if (caller.role === "agent") ids.add(caller.id);
		return ids;
	}

	/** The alarm for the earliest deadline still ahead (a socket's, an owed announcement's, the end's grace), or none. */
	private async settleAlarm(owed = Infinity): Promise<void> {
		const { meta, parts } = this.core;
		const graceUntil =
			meta?.status === "ended" && !parts.announcements.endPublished
				? parts.announcements.endMayGoAt()
				: 0;
		const reregister =
			meta?.status === "waiting" || meta?.status === "chatting"
				? Date.now() + REREGISTER_EVERY_MS
				: Infinity;
		const next = Math.min(
			parts.sockets.nextDeadline(),
			owed,
			reregister,
			graceUntil > Date.now() ? graceUntil : Infinity
		);
		if (next === Infinity) await this.ctx.storage.deleteAlarm();
		else await this.ctx.storage.setAlarm(Math.max(next, Date.now() + 100));
	}
}

/** One alarm serves every deadline: keep the earliest, and never leave one that already passed. */
export async function scheduleAlarm(
	storage: DurableObjectStorage,
	at: number
): Promise<void> {
	const current = await storage.getAlarm();
	if (current === null || current > at || current < Date.now())
		await storage.setAlarm(at);
}
