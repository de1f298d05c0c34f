/**
 * The chat log: two streams numbered from 1, and the merge rules of SPEC §3.
 * Pure (no Cloudflare imports) so the ChatRoom and the client's local copy run the same code.
 * The protocol's rules themselves (streams, the checks, the rebuild plan) are in src/protocol/offsets.ts.
 */
import {
	divergedStreams,
	MessageType,
	streamOf,
} from "../src/protocol/offsets.ts";
import { StreamChains } from "./chat-chain.ts";
import type { ChatMessage, Offsets } from "../src/protocol/chat.ts";
import type { Stream } from "../src/protocol/offsets.ts";
import type { Chains } from "./chat-chain.ts";

export {
	planRebuild,
	streamOf,
	streamRank,
	type RebuildPlan,
	type Stream,
} from "../src/protocol/offsets.ts";

/**
 * Display order (SPEC §2): by sendTime, the visitor first on a tie, then dataOffset; and each stream
 * always in its own offset order. The two agree while a stream's sendTimes grow with its offsets,
 * which every room keeps to; a failover can leave a stream's times out of step (one deployment
 * accepted a message, another the next one earlier), and then its sender's order still wins.
 */
export function inDisplayOrder<M extends Placed>(messages: Iterable<M>): M[] {
	const visitor: M[] = [];
	const agent: M[] = [];
	for (const m of messages)
		(m.type === MessageType.Visitor ? visitor : agent).push(m);
	const byOffset = (a: M, b: M) =>
		a.dataOffset - b.dataOffset || a.sendTime - b.sendTime;
	return mergeStreams(visitor.sort(byOffset), agent.sort(byOffset));
}

type Placed = Pick<ChatMessage, "type" | "dataOffset" | "sendTime">;

/** Two streams, each in offset order, interleaved by sendTime (the visitor's first on a tie). */
function mergeStreams<M extends Placed>(
	visitor: readonly M[],
	agent: readonly M[]
): M[] {
	if (visitor.length === 0) return [...agent];
	if (agent.length === 0) return [...visitor];
	const merged: M[] = [];
	let v = 0;
	let a = 0;
	while (v < visitor.length && a < agent.length)
		merged.push(
			agent[a]!.sendTime < visitor[v]!.sendTime ? agent[a++]! : visitor[v++]!
		);
	while (v < visitor.length) merged.push(visitor[v++]!);
	while (a < agent.length) merged.push(agent[a++]!);
	return merged;
}

export class ChatLog {
	/** Index i holds dataOffset i + 1. The server's streams never have holes; a client's may, briefly. */
	private readonly streams: Record<Stream, (ChatMessage | undefined)[]> = {
		visitor: [],
		agent: [],
	};
	private readonly byId = new Map<string, ChatMessage>();
	/** Empty places below each stream's end; zero on the server, so offsets cost nothing there. */
	private readonly holes: Record<Stream, number> = { visitor: 0, agent: 0 };
	private readonly chains: Record<Stream, StreamChains> = {
		visitor: new StreamChains((offset) => this.streams.visitor[offset - 1]),
		agent: new StreamChains((offset) => this.streams.agent[offset - 1]),
	};

	constructor(messages: Iterable<ChatMessage> = []) {
		for (const message of messages) this.place(message);
	}

	get(id: string): ChatMessage | undefined {
		return this.byId.get(id);
	}

	/** Highest contiguous offset of each stream: what a client reports (SPEC §2). */
	get offsets(): Offsets {
		return {
			visitorDataOffset: this.contiguous("visitor"),
			agentDataOffset: this.contiguous("agent"),
		};
	}

	private contiguous(stream: Stream): number {
		const list = this.streams[stream];
		if (this.holes[stream] === 0) return list.length;
		let n = 0;
		while (n < list.length && list[n] !== undefined) n++;
		return n;
	}

	/** The server's append: the message must take the next offset of its stream. */
	append(message: ChatMessage): void {
		const list = this.streams[streamOf(message)];
		if (message.dataOffset !== list.length + 1) {
			throw new Error(
				`append at ${message.dataOffset}, stream holds ${list.length}`
			);
		}
		if (this.byId.has(message.id))
			throw new Error(`duplicate id ${message.id}`);
		list.push(message);
		this.byId.set(message.id, message);
		this.chains[streamOf(message)].cut(message.dataOffset);
	}

	/**
	 * Puts an authoritative message at its offset, moving it if this copy held it elsewhere.
	 * Returns the message it pushed out of that place, if a different one was there (split brain):
	 * the caller must upload it again so the server re-appends it.
	 */
	place(message: ChatMessage): ChatMessage | undefined {
		const previous = this.byId.get(message.id);
		if (previous) this.clear(streamOf(previous), previous.dataOffset - 1);
		const stream = streamOf(message);
		const list = this.streams[stream];
		const index = message.dataOffset - 1;
		const displaced = list[index];
		this.chains[stream].cut(message.dataOffset);
		if (index >= list.length) {
			this.holes[stream] += index - list.length;
			while (list.length < index) list.push(undefined);
			list.push(message);
		} else {
			if (displaced === undefined) this.holes[stream]--;
			list[index] = message;
		}
		this.byId.set(message.id, message);
		if (displaced && displaced.id !== message.id) {
			this.byId.delete(displaced.id);
			return displaced;
		}
		return undefined;
	}

	private clear(stream: Stream, index: number): void {
		const list = this.streams[stream];
		list[index] = undefined;
		this.chains[stream].cut(index + 1);
		this.holes[stream]++;
		while (list.length > 0 && list[list.length - 1] === undefined) {
			list.pop();
			this.holes[stream]--;
		}
	}

	/** chain(offset) of a stream (SPEC §3); the offset must be at or below the stream's contiguous end. */
	chainAt(stream: Stream, offset: number): Promise<string> {
		return this.chains[stream].at(offset);
	}

	/** The chains at this copy's own offsets, as a caller sends them (none at offset 0). */
	async chainsAtOffsets(): Promise<Chains> {
		const { visitorDataOffset, agentDataOffset } = this.offsets;
		const chains: Chains = {};
		if (visitorDataOffset > 0)
			chains.visitorChain = await this.chainAt("visitor", visitorDataOffset);
		if (agentDataOffset > 0)
			chains.agentChain = await this.chainAt("agent", agentDataOffset);
		return chains;
	}

	/**
	 * The streams on which a caller's history differs from this one's below its offsets (SPEC §3):
	 * checked only where the caller sent a chain and is not ahead of this copy.
	 */
	diverged(offsets: Offsets, chains: Chains): Promise<Stream[]> {
		return divergedStreams(this, { ...offsets, ...chains });
	}

	/** The message at an offset of a stream, if this copy holds it. */
	at(stream: Stream, offset: number): ChatMessage | undefined {
		return offset >= 1 ? this.streams[stream][offset - 1] : undefined;
	}

	/** How many of a stream's newest messages were sent after `time` (streams are in sendTime order). */
	countSince(stream: Stream, time: number): number {
		const list = this.streams[stream];
		let n = 0;
		for (
			let i = list.length - 1;
			i >= 0 && (list[i]?.sendTime ?? 0) > time;
			i--
		)
			n++;
		return n;
	}

	/** One stream's messages in offset order (a divergence rebuild uploads a whole stream). */
	stream(stream: Stream): ChatMessage[] {
		return this.streams[stream].filter(
			(m): m is ChatMessage => m !== undefined
		);
	}

	/** Messages above the given offsets, in display order. */
	above(offsets: Offsets): ChatMessage[] {
		const tail = (stream: Stream, from: number) =>
			this.streams[stream]
				.slice(Math.max(0, from))
				.filter((m): m is ChatMessage => m !== undefined);
		return mergeStreams(
			tail("visitor", offsets.visitorDataOffset),
			tail("agent", offsets.agentDataOffset)
		);
	}

	/** Every message in no particular order: cheaper than all() where order does not matter. */
	values(): ChatMessage[] {
		return [...this.byId.values()];
	}

	all(): ChatMessage[] {
		return this.above({ visitorDataOffset: 0, agentDataOffset: 0 });
	}
}
