/**
 * What the SiteDispatcher tells others when the site changes: the consoles (presence and queue,
 * coalesced), the waiting rooms (their new positions) and the queues (agentStatus.log,
 * chatQueue.log, and the visitors' log events).
 */
import { publisher } from "../queues/publisher.ts";
import {
	freeCapacity,
	queueOrder,
	queuePositions,
	statusOf,
} from "./dispatch-model.ts";
import { chatRoom } from "./room-contract.ts";
import type {
	AgentServerFrame,
	AgentSummary,
	QueueEntry,
} from "../src/protocol/dispatch.ts";
import type { EventName } from "../src/protocol/events.ts";
import type { AgentStatus, WaitingChat } from "./dispatch-model.ts";
import type { DispatcherSockets } from "./dispatcher-sockets.ts";
import type { DispatcherState } from "./dispatcher-state.ts";

/** Consoles are told at most this often: at 200 chat starts a second, one frame per change would be thousands a second. */
const CONSOLE_UPDATE_MS = 100;

export const agentSummaries = (
	state: DispatcherState,
	now: number
): AgentSummary[] =>
	[...state.agents.values()].map((a) => ({
		id: a.id,
		name: a.name,
		role: a.role,
		status: statusOf(a, now),
		maxChats: a.maxChats,
		free: freeCapacity(a),
	}));

export function queueEntries(state: DispatcherState): QueueEntry[] {
	const positions = queuePositions(state.waiting());
	return state
		.waiting()
		.sort(queueOrder)
		.map((c) => ({
			chatId: c.chatId,
			visitorName: c.visitorName,
			department: c.department,
			requestTime: c.requestTime,
			position: positions.get(c.chatId)!,
		}));
}

export class DispatcherNews {
	/** Each agent's status as last published (agentStatus.log). */
	private readonly published = new Map<string, AgentStatus>();
	/** What the consoles have not been told yet, and whether a telling is on its way. */
	private readonly untold = new Set<"presence" | "queue">();
	private telling = false;

	constructor(
		private readonly ctx: DurableObjectState,
		private readonly env: Env,
		private readonly state: DispatcherState,
		private readonly sockets: DispatcherSockets,
		/** Presence deadlines move with every change: the dispatcher re-arms its alarm. */
		private readonly settleAlarm: () => Promise<void>
	) {
		for (const agent of state.agents.values())
			this.published.set(agent.id, statusOf(agent, Date.now()));
	}

	/** Tells every console, publishes agentStatus.log for each agent whose status changed, and re-arms the alarm. */
	/** What a new console is shown first. */
	snapshot(): AgentServerFrame[] {
		return [
			{ type: "presence", agents: agentSummaries(this.state, Date.now()) },
			{ type: "queue", waiting: queueEntries(this.state) },
		];
	}

	presenceChanged(): void {
		const now = Date.now();
		for (const agent of this.state.agents.values()) {
			const status = statusOf(agent, now);
			if (this.published.get(agent.id) === status) continue;
			this.published.set(agent.id, status);
			this.publish("agentStatus.log", [agent.id, String(now)], {
				agentId: agent.id,
				name: agent.name,
				status,
				at: now,
			});
		}
		this.tellConsolesSoon("presence");
	}

	/** Consoles see the new queue; waiting rooms hear their new positions (only the ones that changed). */
	queueChanged(): void {
		const siteId = this.state.siteId;
		this.tellConsolesSoon("queue");
		if (!siteId) return;
		for (const [chatId, position] of queuePositions(this.state.waiting())) {
			const chat = this.state.chats.get(chatId)!;
			if (chat.toldPosition === position) continue;
			this.state.saveChat({ ...chat, toldPosition: position });
			this.ctx.waitUntil(
				chatRoom(this.env, siteId, chatId)
					.queuePosition(position)
					.catch(() => undefined) // the room asks again within 30 s
			);
		}
	}

	leftQueue(chat: WaitingChat, reason: "assigned" | "ended" | "gone"): void {
		const now = Date.now();
		this.publish("chatQueue.log", [chat.chatId, "leave"], {
			chatId: chat.chatId,
			event: "leave",
			reason,
			requestTime: chat.requestTime,
			waitMs: now - chat.requestTime,
			at: now,
		});
	}

	publish(
		name: EventName,
		scope: string[],
		payload: Record<string, unknown>
	): void {
		const siteId = this.state.siteId;
		if (!siteId) return;
		// Named by what happened (the chat entering the queue, an agent's status at a time): a retold event is one event.
		const uniqueId = [name, siteId, ...scope].join(":");
		this.ctx.waitUntil(
			publisher(this.env, siteId)
				.publish(name, uniqueId, { siteId, ...payload })
				.catch((error) =>
					console.error(`SiteDispatcher: ${name} not published`, error)
				)
		);
	}

	private tellConsolesSoon(what: "presence" | "queue"): void {
		this.untold.add(what);
		if (this.telling) return;
		this.telling = true;
		this.ctx.waitUntil(
			new Promise<void>((resolve) =>
				setTimeout(resolve, CONSOLE_UPDATE_MS)
			).then(async () => {
				const untold = new Set(this.untold);
				this.untold.clear();
				this.telling = false;
				if (untold.has("presence"))
					this.sockets.broadcast({
						type: "presence",
						agents: agentSummaries(this.state, Date.now()),
					});
				if (untold.has("queue"))
					this.sockets.broadcast({
						type: "queue",
						waiting: queueEntries(this.state),
					});
				await this.settleAlarm();
			})
		);
	}
}
