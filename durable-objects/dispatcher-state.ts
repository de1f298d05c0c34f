/**
 * What a SiteDispatcher knows (SPEC §7): agents' presence and load, and the chats it routes. In
 * durable mode every change is kept in the object's storage; in memory mode nothing is, and the
 * state comes back from the clients (consoles' hello, waiting rooms' re-registration).
 */
import { statusOf } from "./dispatch-model.ts";
import type { AgentPresence, WaitingChat } from "./dispatch-model.ts";

/** A chat the dispatcher knows: waiting in the queue, being handed to an agent, or assigned. */
export interface DispatchedChat extends WaitingChat {
	state: "waiting" | "assigning" | "assigned";
	/** The queue position its room was last told, so only changes are sent. */
	toldPosition?: number;
}

const AGENT = "agent:";
const CHAT = "chat:";

export class DispatcherState {
	readonly agents = new Map<string, AgentPresence>();
	readonly chats = new Map<string, DispatchedChat>();
	/** The waiting ones among `chats`: routing looks at these on every change, the assigned ones may be thousands. */
	private readonly waitingChats = new Map<string, DispatchedChat>();
	siteId: string | undefined;

	/** `storage` is undefined in memory mode. */
	constructor(private readonly storage: DurableObjectStorage | undefined) {
		if (!storage) return;
		this.siteId = storage.kv.get<string>("siteId");
		for (const [, agent] of storage.kv.list<AgentPresence>({ prefix: AGENT }))
			this.agents.set(agent.id, { ...agent, sockets: 0 });
		for (const [, chat] of storage.kv.list<DispatchedChat>({ prefix: CHAT }))
			this.remember(chat);
	}

	noteSite(siteId: string): void {
		if (this.siteId === siteId) return;
		this.siteId = siteId;
		this.storage?.kv.put("siteId", siteId);
	}

	/** The waiting chats, in no particular order (dispatch-model sorts). */
	waiting(): DispatchedChat[] {
		return [...this.waitingChats.values()];
	}

	/** Whether an agent is online, and how many chats wait (the widget's question). */
	availability(now: number): { online: boolean; waiting: number } {
		return {
			online: [...this.agents.values()].some(
				(a) => statusOf(a, now) === "online"
			),
			waiting: this.waitingChats.size,
		};
	}

	/** The agent's chats as the dispatcher knows them. */
	chatsOf(
		agentId: string
	): { chatId: string; visitorName?: string; requestTime?: number }[] {
		return (this.agents.get(agentId)?.chats ?? []).map((chatId) => {
			const chat = this.chats.get(chatId);
			return {
				chatId,
				visitorName: chat?.visitorName,
				requestTime: chat?.requestTime,
			};
		});
	}

	/**
	 * An agent was heard from (a hello, a status, an HTTP call): its presence, and the chats the
	 * dispatcher already counts for it. A console's claims are not merged here: the rooms are asked
	 * first (dispatcher-claims.ts).
	 */
	heard(
		agent: Pick<AgentPresence, "id" | "name" | "role" | "maxChats">,
		declared: AgentPresence["declared"],
		sockets: number,
		save: boolean
	): void {
		const known = this.agents.get(agent.id);
		const presence: AgentPresence = {
			...agent,
			declared,
			lastSeen: Date.now(),
			sockets,
			chats: known?.chats ?? [],
			lastAssignedAt: known?.lastAssignedAt ?? 0,
		};
		if (save) this.saveAgent(presence);
		else this.agents.set(agent.id, presence);
	}

	/** Told of every change to an agent's chats (the consoles' attachments and the claims in flight follow them). */
	onChats: (agentId: string, added: string[], removed: string[]) => void =
		() => {};

	saveAgent(agent: AgentPresence): void {
		const before = this.agents.get(agent.id)?.chats ?? [];
		this.agents.set(agent.id, agent);
		if (before !== agent.chats) {
			const added = agent.chats.filter((id) => !before.includes(id));
			const removed = before.filter((id) => !agent.chats.includes(id));
			if (added.length > 0 || removed.length > 0)
				this.onChats(agent.id, added, removed);
		}
		this.storage?.kv.put(AGENT + agent.id, agent);
	}

	saveChat(chat: DispatchedChat): void {
		this.remember(chat);
		this.storage?.kv.put(CHAT + chat.chatId, chat);
	}

	dropChat(chatId: string): void {
		this.chats.delete(chatId);
		this.waitingChats.delete(chatId);
		this.storage?.kv.delete(CHAT + chatId);
	}

	private remember(chat: DispatchedChat): void {
		this.chats.set(chat.chatId, chat);
		if (chat.state === "waiting") this.waitingChats.set(chat.chatId, chat);
		else this.waitingChats.delete(chat.chatId);
	}
}
