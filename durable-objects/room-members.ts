/**
 * Who the chat's agents are (SPEC §4, §7): the dispatcher's accept and transfer, a supervisor's or an
 * invited agent's join, and the invitations. Each change is a system message and a new chatState.
 */
import { roomFailure } from "../src/errors.ts";
import { isAhead } from "../src/protocol/offsets.ts";
import { lostChat } from "./room-contract.ts";
import type { ChatMeta } from "../src/protocol/chat-state.ts";
import type { Offsets } from "../src/protocol/chat.ts";
import type { AgentRef, Caller, RoomAnswer } from "./room-contract.ts";
import type { RoomCore } from "./room-core.ts";

/** Invitations not yet answered by a join: enough for a team, too few to grow the room without bound. */
export const MAX_PENDING_INVITATIONS = 5;

/** The chat with its new state, or why not. */
type Membership = { chatId: string; chatState: string } | RoomAnswer;

export class RoomMembers {
	/** Agents invited to join (memory mode; durable mode keeps them in storage). */
	private invitedInMemory: string[] = [];

	constructor(
		private readonly core: RoomCore,
		/** Undefined in memory mode. */
		private readonly kv: DurableObjectStorage["kv"] | undefined
	) {}

	/** The dispatcher gives the waiting chat to an agent (routing or an accept): the first one wins. */
	accept(caller: Caller): Promise<Membership> {
		return this.change(caller, async (meta) => {
			if (caller.role !== "agent")
				return roomFailure(403, "forbidden", "only agents accept chats");
			// Not even by one of its agents: an ended chat counted again would hold the agent's capacity for ever.
			if (meta.status === "ended")
				return roomFailure(409, "conflict", "the chat has ended");
			if (!meta.agentIds.includes(caller.id)) {
				if (meta.status !== "waiting")
					return roomFailure(409, "conflict", "the chat is no longer waiting");
				await this.addAgent(meta, caller);
			}
			return { chatId: meta.chatId, chatState: this.core.chatState! };
		});
	}

	/** One of the chat's agents hands it to another (the dispatcher checked the other is online with room). */
	transfer(caller: Caller, to: AgentRef, held?: Offsets): Promise<Membership> {
		const core = this.core;
		return this.change(caller, async (meta) => {
			const refused = core.membership(caller, meta);
			if (refused) return refused;
			// The agent's copy holds what the room lacks (it sent on another deployment): once out of the chat its
			// copy could never upload it, so it rebuilds the room first (code 1), then asks again.
			if (held && isAhead(held, core.log.offsets))
				return { code: 1, ...core.log.offsets, messages: [] };
			if (meta.status !== "chatting")
				return roomFailure(
					409,
					"conflict",
					"only a live chat can be transferred"
				);
			if (meta.agentIds.includes(to.id))
				return roomFailure(
					409,
					"conflict",
					`${to.name} is already in the chat`
				);
			const notice = await core.notice(
				caller,
				`${caller.name ?? "An agent"} transferred the chat to ${to.name}`
			);
			const pastAgentIds = [
				...new Set([...(meta.pastAgentIds ?? []), caller.id]),
			];
			const agentIds = [
				...meta.agentIds.filter((id) => id !== caller.id),
				to.id,
			];
			await core.commit(
				{
					...meta,
					v: meta.v + 1,
					agentIds,
					pastAgentIds,
					agentNames: { ...meta.agentNames, [to.id]: to.name },
				},
				[notice]
			);
			return { chatId: meta.chatId, chatState: core.chatState! };
		});
	}

	/**
	 * A supervisor, or an agent one of the chat's agents invited, joins a live chat (SPEC §4): it becomes
	 * one of its agents, with a system message, and sees the whole history.
	 */
	join(caller: Caller): Promise<Membership> {
		const core = this.core;
		return this.change(caller, async (meta) => {
			if (meta.agentIds.includes(caller.id))
				return { chatId: meta.chatId, chatState: core.chatState! };
			if (meta.status === "ended")
				return roomFailure(409, "chat_ended", "the chat has ended");
			if (
				caller.agentRole !== "supervisor" &&
				!this.invitedAgents().includes(caller.id)
			) {
				return roomFailure(
					403,
					"forbidden",
					"only a supervisor, or an agent the chat's agents invited, may join"
				);
			}
			await this.addAgent(meta, caller);
			// The invitation is used: it frees its place among the pending ones.
			const pending = this.invitedAgents();
			if (pending.includes(caller.id))
				this.saveInvited(pending.filter((id) => id !== caller.id));
			return { chatId: meta.chatId, chatState: core.chatState! };
		});
	}

	/** One of the chat's agents invites another agent, who may then join. Kept beside the chat, not in its sealed state. */
	async inviteAgent(
		caller: Caller,
		agentId: string
	): Promise<{ chatId: string } | RoomAnswer> {
		const meta = this.core.meta;
		if (!meta) return lostChat();
		const refused =
			this.core.authorize(caller, meta) ?? this.core.membership(caller, meta);
		if (refused) return refused;
		if (meta.status === "ended")
			return roomFailure(409, "chat_ended", "the chat has ended");
		if (meta.agentIds.includes(agentId))
			return roomFailure(409, "conflict", "that agent is already in the chat");
		const pending = this.invitedAgents();
		if (pending.includes(agentId)) return { chatId: meta.chatId };
		if (pending.length >= MAX_PENDING_INVITATIONS)
			return roomFailure(
				409,
				"conflict",
				`at most ${MAX_PENDING_INVITATIONS} agents may be invited to a chat at once`
			);
		this.saveInvited([...pending, agentId]);
		return { chatId: meta.chatId };
	}

	private saveInvited(invited: string[]): void {
		if (this.kv) this.kv.put("invitedAgents", invited);
		else this.invitedInMemory = invited;
	}

	/** A change of the chat's agents, in the write queue, on a chat the room has and the caller may reach. */
	private change(
		caller: Caller,
		apply: (meta: ChatMeta) => Promise<Membership>
	): Promise<Membership> {
		return this.core.writes.run(async () => {
			const meta = this.core.meta;
			if (!meta) return lostChat();
			return this.core.authorize(caller, meta) ?? apply(meta);
		});
	}

	private invitedAgents(): string[] {
		return this.kv
			? (this.kv.get<string[]>("invitedAgents") ?? [])
			: this.invitedInMemory;
	}

	/** The caller becomes one of the chat's agents, and the chat is live from then on. */
	private async addAgent(meta: ChatMeta, caller: Caller): Promise<void> {
		const notice = await this.core.notice(
			caller,
			`${caller.name ?? "An agent"} joined the chat`
		);
		const agentNames = caller.name
			? { ...meta.agentNames, [caller.id]: caller.name }
			: meta.agentNames;
		await this.core.commit(
			{
				...meta,
				v: meta.v + 1,
				status: "chatting",
				agentIds: [...meta.agentIds, caller.id],
				agentNames,
				...(meta.startTime === undefined
					? { startTime: Date.now(), firstAgentId: caller.id }
					: {}),
			},
			[notice]
		);
	}
}
