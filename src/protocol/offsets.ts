/**
 * The offset protocol of SPEC §3 in one place, shared by the ChatRoom and every client: message
 * types and their streams, the room's check of each call (steps 1–2 and the chains), what a client
 * uploads when the room asks for a rebuild, how the room applies an upload, and how a copy takes an
 * answer in. Pure: no Cloudflare imports and no zod, so that the widget bundles it and a unit test
 * runs it in milliseconds.
 */
import type { Chains } from "../../durable-objects/chat-chain.ts";
import type {
	ChatMessage,
	Offsets,
	MessageType as WireMessageType,
} from "./chat.ts";

// The chain (SPEC §3, "Histories that diverged") is already pure: it is re-exported, not copied.
export {
	chainStep,
	StreamChains,
	type Chains,
} from "../../durable-objects/chat-chain.ts";
export type { Offsets } from "./chat.ts";

/** Message types (SPEC §2). */
export const MessageType = {
	Visitor: 1,
	Agent: 2,
	Bot: 3,
	System: 4,
} as const satisfies Record<string, WireMessageType>;
export type MessageType = WireMessageType;

export type Stream = "visitor" | "agent";

/** The visitor stream holds type 1; the agent stream everything the service side says (2, 3, 4). */
export const streamOf = (message: Pick<ChatMessage, "type">): Stream =>
	message.type === MessageType.Visitor ? "visitor" : "agent";

/** The visitor stream sorts before the agent stream wherever the two tie. */
export const streamRank = (message: Pick<ChatMessage, "type">): number =>
	message.type === MessageType.Visitor ? 0 : 1;

/** The type of a message its sender writes: a visitor's, or an agent's. */
export const messageTypeOf = (
	role: "visitor" | "agent"
): typeof MessageType.Visitor | typeof MessageType.Agent =>
	role === "visitor" ? MessageType.Visitor : MessageType.Agent;

/** Where a copy stands, as every chat call carries it: its offsets and its chain at each (none at 0). */
export type Position = Offsets & Chains;

/** What a code 1 asks for: the room's offsets (−1/−1: it has nothing) and the streams whose history differs. */
export type RebuildRequest = Offsets & { diverged?: Stream[] };

/** The room's code-1 answer: nothing of the call was applied. */
export type RebuildAnswer = RebuildRequest & { code: 1; messages: [] };

/** Whether `a` holds more than `b` on either stream. */
export const isAhead = (a: Offsets, b: Offsets): boolean =>
	a.visitorDataOffset > b.visitorDataOffset ||
	a.agentDataOffset > b.agentDataOffset;

/** What the room knows of its chat for the check: its offsets and its chain at any offset up to them. */
export interface RoomCopy {
	readonly offsets: Offsets;
	chainAt(stream: Stream, offset: number): Promise<string>;
}

/**
 * The streams on which a caller's history differs from the room's below its offsets (SPEC §3):
 * checked only where the caller sent a chain, at an offset above 0 and not above the room's.
 */
export async function divergedStreams(
	room: RoomCopy,
	caller: Position
): Promise<Stream[]> {
	const own = room.offsets;
	const diverged: Stream[] = [];
	for (const [stream, offset, held, chain] of [
		[
			"visitor",
			caller.visitorDataOffset,
			own.visitorDataOffset,
			caller.visitorChain,
		],
		["agent", caller.agentDataOffset, own.agentDataOffset, caller.agentChain],
	] as const) {
		if (
			chain !== undefined &&
			offset > 0 &&
			offset <= held &&
			(await room.chainAt(stream, offset)) !== chain
		)
			diverged.push(stream);
	}
	return diverged;
}

/**
 * Steps 1–2 of SPEC §3 and the chain check, on every chat call: undefined when the call may be
 * applied, else the code-1 answer. A room without its chat (`undefined`) answers −1/−1 (a full
 * rebuild); one behind the caller on either stream, or whose history differs below the caller's
 * offsets, answers its own offsets (an incremental rebuild, or a divergence rebuild of `diverged`).
 */
export async function checkCall(
	room: RoomCopy | undefined,
	caller: Position
): Promise<RebuildAnswer | undefined> {
	if (!room)
		return {
			code: 1,
			visitorDataOffset: -1,
			agentDataOffset: -1,
			messages: [],
		};
	const diverged = await divergedStreams(room, caller);
	const server = room.offsets;
	if (!isAhead(caller, server) && diverged.length === 0) return undefined;
	return diverged.length > 0
		? { code: 1, ...server, messages: [], diverged }
		: { code: 1, ...server, messages: [] };
}

/** Upload order: each stream from its lowest offset, so every chunk continues where the last one stopped. */
export const byStreamThenOffset = (a: ChatMessage, b: ChatMessage) =>
	streamRank(a) - streamRank(b) || a.dataOffset - b.dataOffset;

/**
 * What a client uploads for a rebuild (SPEC §3): every message above the room's offsets (all of them
 * when it has nothing: −1 counts as 0), the whole of a stream whose history diverged, and any of its
 * messages a split brain displaced; in upload order.
 */
export function planUpload(
	copy: { above(offsets: Offsets): ChatMessage[] },
	request: RebuildRequest,
	displaced: readonly ChatMessage[] = []
): ChatMessage[] {
	const diverged = new Set(request.diverged ?? []);
	const lacks = (stream: Stream, offset: number) =>
		diverged.has(stream) ? 0 : Math.max(0, offset);
	const since = {
		visitorDataOffset: lacks("visitor", request.visitorDataOffset),
		agentDataOffset: lacks("agent", request.agentDataOffset),
	};
	return [...copy.above(since), ...displaced].sort(byStreamThenOffset);
}

/**
 * After a divergence rebuild, the read that takes the room's numbering: each diverged stream from
 * offset 0 without a chain, the others from where the copy stands.
 */
export function rereadPosition(
	position: Position,
	diverged: Iterable<Stream>
): Position {
	const from = new Set(diverged);
	const read: Position = {
		visitorDataOffset: from.has("visitor") ? 0 : position.visitorDataOffset,
		agentDataOffset: from.has("agent") ? 0 : position.agentDataOffset,
	};
	if (!from.has("visitor") && position.visitorChain)
		read.visitorChain = position.visitorChain;
	if (!from.has("agent") && position.agentChain)
		read.agentChain = position.agentChain;
	return read;
}

export interface RebuildPlan {
	/** In the order to apply. `resealed` ones got a new offset and need a new mac before they are appended. */
	appends: { message: ChatMessage; resealed: boolean }[];
	/** Messages beyond a gap: not applied, the client must send what comes before them. */
	heldBack: number;
}

/**
 * Decides what a rebuild upload does to the room's log (SPEC §3), without changing it:
 * known ids are skipped, the next offsets are appended as they are, an offset the log already
 * holds with another id (split brain) is re-appended after them, anything beyond a gap is held back.
 * Conflicts go last so that no message that could keep its offset and mac loses them.
 */
export function planRebuild(
	log: {
		get(id: string): ChatMessage | undefined;
		readonly offsets: Offsets;
	},
	incoming: readonly ChatMessage[]
): RebuildPlan {
	const appends: RebuildPlan["appends"] = [];
	let heldBack = 0;
	const byId = new Map<string, ChatMessage>();
	for (const m of incoming)
		if (!log.get(m.id) && !byId.has(m.id)) byId.set(m.id, m);
	const fresh = [...byId.values()].sort((a, b) => a.dataOffset - b.dataOffset);
	const { visitorDataOffset, agentDataOffset } = log.offsets;
	for (const [stream, length] of [
		["visitor", visitorDataOffset],
		["agent", agentDataOffset],
	] as const) {
		let next = length + 1;
		const conflicts: ChatMessage[] = [];
		for (const message of fresh) {
			if (streamOf(message) !== stream) continue;
			if (message.dataOffset === next) {
				appends.push({ message, resealed: false });
				next++;
			} else if (message.dataOffset < next) conflicts.push(message);
			else heldBack++;
		}
		for (const message of conflicts)
			appends.push({
				message: { ...message, dataOffset: next++ },
				resealed: true,
			});
	}
	return { appends, heldBack };
}

/** A client's local copy, as an answer is merged into it. */
export interface LocalCopy {
	get(id: string): ChatMessage | undefined;
	/** Puts a message at its offset; returns a different one it pushed out of that place. */
	place(message: ChatMessage): ChatMessage | undefined;
}

/**
 * Merges the room's messages into a local copy, the room's placement winning. `fresh`: the ones
 * new to the copy. `displaced`: the copy's messages a split brain pushed out of their place, kept
 * (once each) to be uploaded again until the room holds them. `outbox`: what is still unsent, without
 * the messages the room now holds.
 */
export function absorb<Item extends { id: string }>(
	copy: LocalCopy,
	messages: readonly ChatMessage[],
	held: { displaced: readonly ChatMessage[]; outbox: readonly Item[] }
): { fresh: ChatMessage[]; displaced: ChatMessage[]; outbox: Item[] } {
	const fresh: ChatMessage[] = [];
	const displaced = [...held.displaced];
	for (const message of messages) {
		if (!copy.get(message.id)) fresh.push(message);
		const pushedOut = copy.place(message);
		if (pushedOut) displaced.push(pushedOut);
	}
	return {
		fresh,
		displaced: displaced.filter(
			(m, i, all) =>
				!copy.get(m.id) && all.findIndex((d) => d.id === m.id) === i
		),
		outbox:
			fresh.length > 0
				? held.outbox.filter((m) => !copy.get(m.id))
				: [...held.outbox],
	};
}
