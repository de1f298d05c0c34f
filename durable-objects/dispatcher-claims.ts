/**
 * A console's hello lists the chats it holds (SPEC §7): a claim, not a fact. Before the dispatcher
 * counts one against the agent's capacity or lists it anywhere, it asks the chat's room
 * (ChatRoom.claimOf). Live: counted. Stale (ended, transferred away, never the agent's): the agent's
 * consoles are answered `released` with reason `stale` and drop it. Unknown (a room without its
 * chat, memory mode after an eviction): neither, and asked again from the alarm while the clients
 * rebuild the room, for a few minutes (dispatch-model.ts).
 */
import {
	CLAIM_RECHECK_FOR_MS,
	claimRecheckDelay,
	claimsToCheck,
	MAX_CLAIMS,
} from "./dispatch-model.ts";
import { chatRoom } from "./room-contract.ts";
import type { Claim } from "./dispatch-model.ts";
import type { DispatcherNews } from "./dispatcher-news.ts";
import type { DispatcherSockets } from "./dispatcher-sockets.ts";
import type { DispatcherState } from "./dispatcher-state.ts";

/** A claim no room could answer yet: when it was first made, how often it was asked, when next. */
interface Pending {
	since: number;
	tries: number;
	at: number;
}

export interface ClaimParts {
	env: Env;
	ctx: DurableObjectState;
	state: DispatcherState;
	sockets: DispatcherSockets;
	news: DispatcherNews;
	settleAlarm(): Promise<void>;
	/** Routing, once an agent's load is known again. */
	route(): Promise<void>;
}

export class DispatcherClaims {
	/** Unanswered claims, by agent then chat: at most MAX_CLAIMS an agent, however many consoles it opens. */
	private readonly pending = new Map<string, Map<string, Pending>>();
	/** `agentId chatId` being asked now: another console's hello does not ask again. */
	private readonly inFlight = new Set<string>();
	/** Agents whose claims are being asked about, and when that is done: their load is not known meanwhile. */
	private readonly checking = new Map<string, Promise<void>>();
	/**
	 * Changes of who has which chat (`agentId chatId`, or a chat id for its end) numbered in order while
	 * rooms are asked: an answer asked for before such a change is out of date, and changes nothing.
	 */
	private readonly changed = new Map<string, number>();
	private changes = 0;
	private asking = 0;

	constructor(private readonly parts: ClaimParts) {}

	/** An agent's chats changed (DispatcherState.onChats): answers asked for before are out of date, and a chat now counted is no longer unanswered. */
	chatsChanged(agentId: string, added: string[], removed: string[]): void {
		for (const chatId of [...added, ...removed])
			this.note(`${agentId} ${chatId}`);
		for (const chatId of added) this.pending.get(agentId)?.delete(chatId);
	}

	/** Whether the agent's load waits on rooms' answers: no automatic assignment until it is known. */
	isChecking(agentId: string): boolean {
		return this.checking.has(agentId);
	}

	/**
	 * Chats some console claims whose rooms have not said whose they are yet: not routed meanwhile, for the
	 * first few askings (about 30 s). A console that cannot back its claim (it has the chat from the
	 * dispatcher's list, without the chatState that would rebuild the room) must not hold it out for good.
	 */
	claimedChats(): Set<string> {
		const ids = new Set<string>();
		for (const claims of this.pending.values())
			for (const [chatId, claim] of claims)
				if (claim.tries < CLAIM_HOLDS_ROUTING_FOR) ids.add(chatId);
		for (const key of this.inFlight) ids.add(key.split(" ")[1]!);
		return ids;
	}

	/** Resolves once the claims asked about for the agent are settled (accept and join check capacity after). */
	settled(agentId: string): Promise<void> {
		return this.checking.get(agentId) ?? Promise.resolve();
	}

	/** A console's hello (or, on waking in memory mode, what its attachment kept). */
	claim(siteId: string, agentId: string, maxChats: number, chats: string[]) {
		const ids = claimsToCheck(chats, maxChats);
		if (ids.length === 0) return Promise.resolve();
		return this.ask(siteId, agentId, ids);
	}

	/**
	 * The chat ended: no claim to it counts any more. The agents that claimed it without it being
	 * counted (unanswered, or being asked about) hear so here; those that counted it, from the routing.
	 */
	ended(chatId: string): void {
		this.note(chatId);
		const claimants = new Set<string>();
		for (const [agentId, claims] of this.pending)
			if (claims.delete(chatId)) claimants.add(agentId);
		for (const key of this.inFlight) {
			const [agentId, id] = key.split(" ");
			if (id === chatId) claimants.add(agentId!);
		}
		for (const agentId of claimants)
			if (!this.parts.state.agents.get(agentId)?.chats.includes(chatId))
				this.parts.sockets.toAgent(agentId, {
					type: "released",
					chatId,
					reason: "ended",
				});
	}

	/**
	 * From the alarm (set for the first one due): the unanswered claims are asked again, those asked
	 * about long enough are let go (the console keeps its copy; its next hello claims it again).
	 */
	async recheck(siteId: string, now: number): Promise<void> {
		const asked: Promise<void>[] = [];
		for (const [agentId, claims] of this.pending) {
			for (const [chatId, claim] of claims)
				if (now - claim.since >= CLAIM_RECHECK_FOR_MS) claims.delete(chatId);
			if (claims.size === 0) this.pending.delete(agentId);
			else asked.push(this.ask(siteId, agentId, [...claims.keys()]));
		}
		await Promise.all(asked);
	}

	nextDeadline(): number {
		let next = Infinity;
		for (const claims of this.pending.values())
			for (const claim of claims.values()) next = Math.min(next, claim.at);
		return next;
	}

	private async ask(siteId: string, agentId: string, claimed: string[]) {
		const ids = claimed.filter((id) => !this.inFlight.has(`${agentId} ${id}`));
		if (ids.length === 0) return;
		for (const id of ids) this.inFlight.add(`${agentId} ${id}`);
		const asked = this.changes;
		this.asking++;
		const answers = Promise.all(
			ids.map(async (chatId) => {
				const claim = await answerOf(
					chatRoom(this.parts.env, siteId, chatId).claimOf(agentId)
				);
				this.inFlight.delete(`${agentId} ${chatId}`);
				this.settle(agentId, chatId, claim, asked);
			})
		).then(() => undefined);
		const before = this.checking.get(agentId);
		const done = Promise.all([before, answers]).then(() => undefined);
		this.checking.set(agentId, done);
		try {
			await answers;
		} finally {
			if (this.checking.get(agentId) === done) this.checking.delete(agentId);
			if (--this.asking === 0) this.changed.clear();
		}
		this.parts.news.presenceChanged();
		this.parts.ctx.waitUntil(this.parts.route());
		await this.parts.settleAlarm();
	}

	private settle(agentId: string, chatId: string, claim: Claim, asked: number) {
		const { state, sockets } = this.parts;
		const outdated =
			(this.changed.get(chatId) ?? 0) > asked ||
			(this.changed.get(`${agentId} ${chatId}`) ?? 0) > asked;
		if (outdated) return;
		const agent = state.agents.get(agentId);
		const claims = this.pending.get(agentId);
		if (claim === "unknown") {
			const before = claims?.get(chatId);
			if (before) claims!.set(chatId, retried(before));
			else if (!claims)
				this.pending.set(agentId, new Map([[chatId, pending()]]));
			// Beyond the bound, the console keeps its copy and its next hello claims it again.
			else if (claims.size < MAX_CLAIMS) claims.set(chatId, pending());
			return;
		}
		claims?.delete(chatId);
		if (claims?.size === 0) this.pending.delete(agentId);
		if (claim === "stale") {
			if (agent?.chats.includes(chatId))
				state.saveAgent({
					...agent,
					chats: agent.chats.filter((id) => id !== chatId),
				});
			sockets.toAgent(agentId, { type: "released", chatId, reason: "stale" });
		} else if (agent && !agent.chats.includes(chatId))
			state.saveAgent({ ...agent, chats: [...agent.chats, chatId] });
	}

	/** Only while rooms are asked: nothing else reads these marks. */
	private note(key: string): void {
		if (this.asking > 0) this.changed.set(key, ++this.changes);
	}
}

/** How many askings an unanswered claim keeps its waiting chat out of routing (rechecks at 1, 2, 4, 8, 16 s). */
const CLAIM_HOLDS_ROUTING_FOR = 5;

/** A room that does not answer in this time is taken as not knowing: routing does not wait on it longer. */
const CLAIM_ANSWER_MS = 10_000;

function answerOf(asked: Promise<Claim>): Promise<Claim> {
	let timer: ReturnType<typeof setTimeout> | undefined;
	const late = new Promise<Claim>((resolve) => {
		timer = setTimeout(() => resolve("unknown"), CLAIM_ANSWER_MS);
	});
	return Promise.race([asked.catch(() => "unknown" as const), late]).finally(
		() => clearTimeout(timer)
	);
}

const pending = (): Pending => {
	const now = Date.now();
	return { since: now, tries: 1, at: now + claimRecheckDelay(0) };
};

const retried = (p: Pending): Pending => ({
	...p,
	tries: p.tries + 1,
	at: Date.now() + claimRecheckDelay(p.tries),
});
