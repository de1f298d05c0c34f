/**
 * What the chaos run checks on each chat once it has settled and ended (SPEC §11): every message a
 * client had accepted is present exactly once, in order, on both clients and on the server, the
 * copies are identical with each stream numbered 1..n, and each persisted transcript is whole.
 * Pure: it only compares what the run collected.
 */
import type { ChatMessage } from "../src/protocol/chat.ts";

export type Side = "visitor" | "agent";
export type CopyName = Side | "server";

export interface ChatOutcome {
	chatId: string;
	/** Each side's message ids in the order it sent them, with the ones the service accepted. */
	sent: Record<Side, string[]>;
	accepted: ReadonlySet<string>;
	/** The final copies; the server's is missing when the deployment could not give one, the agent's when no agent got the chat. */
	copies: {
		visitor: ChatMessage[];
		agent: ChatMessage[] | undefined;
		server: ChatMessage[] | undefined;
	};
	/** The persisted transcript on each deployment that has one. */
	transcripts: { deployment: string; messageIds: string[] }[];
	/** Deployments that took the chat's end and so must have persisted it. */
	mustBePersistedOn: string[];
}

export interface Findings {
	lost: number;
	doubled: number;
	outOfOrder: number;
	copiesDiffer: number;
	offsetGaps: number;
	transcriptsShort: number;
	notPersisted: number;
	/** One line per thing found, for the report and for whoever investigates. */
	problems: string[];
}

/** Every one of these must be zero for a run to pass. */
export const MUST_BE_ZERO = [
	"lost",
	"doubled",
	"outOfOrder",
	"copiesDiffer",
	"offsetGaps",
	"transcriptsShort",
	"notPersisted",
] as const;

export const noFindings = (): Findings => ({
	lost: 0,
	doubled: 0,
	outOfOrder: 0,
	copiesDiffer: 0,
	offsetGaps: 0,
	transcriptsShort: 0,
	notPersisted: 0,
	problems: [],
});

export function addFindings(into: Findings, more: Findings): void {
	for (const key of MUST_BE_ZERO) into[key] += more[key];
	into.problems.push(...more.problems);
}

const placeOf = (m: ChatMessage) =>
	`${m.id}@${m.type === 1 ? "v" : "a"}${m.dataOffset}`;

export function checkChat(chat: ChatOutcome): Findings {
	const found = noFindings();
	const say = (line: string) =>
		found.problems.push(`chat ${chat.chatId}: ${line}`);
	const copies = Object.entries(chat.copies).filter(
		(e): e is [CopyName, ChatMessage[]] => e[1] !== undefined
	);
	if (!chat.copies.server) say("the server gave no copy of the chat");

	// Lost: accepted, but missing from a copy (or there is no server copy at all).
	for (const id of chat.accepted) {
		const lacking = copies
			.filter(([, messages]) => !messages.some((m) => m.id === id))
			.map(([name]) => name);
		if (!chat.copies.server) lacking.push("server");
		if (lacking.length > 0) {
			found.lost++;
			say(
				`accepted message ${id} (${sideOf(chat, id)}) is missing from the ${lacking.join(", ")} copy`
			);
		}
	}

	// Doubled: an id twice in one copy.
	const doubledIds = new Set<string>();
	for (const [name, messages] of copies) {
		const seen = new Set<string>();
		for (const m of messages) {
			if (seen.has(m.id) && !doubledIds.has(m.id)) {
				doubledIds.add(m.id);
				say(`message ${m.id} is there twice in the ${name} copy`);
			}
			seen.add(m.id);
		}
	}
	found.doubled += doubledIds.size;

	// Out of order: a sender's accepted messages must keep the order it sent them in, by display order and by
	// offset. Per sender, not per side: after a transfer two agents write, and in a split brain each on its own
	// deployment, where the merge re-appends one's messages after the other's (SPEC §3), whatever the clocks say.
	const inverted = new Set<string>();
	const senderOf = new Map<string, string | undefined>();
	for (const [, messages] of copies)
		for (const m of messages) senderOf.set(m.id, m.senderId);
	const bySender = (ids: string[]): string[][] => {
		const groups = new Map<string | undefined, string[]>();
		for (const id of ids) {
			const sender = senderOf.get(id);
			groups.set(sender, [...(groups.get(sender) ?? []), id]);
		}
		return [...groups.values()];
	};
	for (const side of ["visitor", "agent"] as const) {
		for (const order of bySender(
			chat.sent[side].filter((id) => chat.accepted.has(id))
		))
			for (const [name, messages] of copies) {
				const position = new Map(messages.map((m, i) => [m.id, i]));
				const offset = new Map(messages.map((m) => [m.id, m.dataOffset]));
				let previous: string | undefined;
				for (const id of order) {
					if (!position.has(id)) continue;
					if (
						previous !== undefined &&
						(position.get(id)! < position.get(previous)! ||
							offset.get(id)! < offset.get(previous)!)
					) {
						if (!inverted.has(id))
							say(
								`${side} message ${id} comes before ${previous}, sent earlier, in the ${name} copy`
							);
						inverted.add(id);
					}
					previous = id;
				}
			}
	}
	found.outOfOrder += inverted.size;

	// The copies themselves: the same messages, each the same everywhere (place, time, sender, content), in the same order.
	const [first, ...others] = copies;
	if (first) {
		let differ = false;
		for (const [name, messages] of others) {
			const difference = describeDifference(first[1], messages);
			if (!difference) continue;
			differ = true;
			say(`the ${name} copy differs from the ${first[0]} copy: ${difference}`);
		}
		if (differ) found.copiesDiffer++;
	}

	// Each stream numbered 1..n, no gaps, no offset used twice.
	let gaps = false;
	for (const [name, messages] of copies) {
		for (const stream of [1, 2] as const) {
			const offsets = messages
				.filter((m) => (stream === 1 ? m.type === 1 : m.type !== 1))
				.map((m) => m.dataOffset)
				.sort((a, b) => a - b);
			const bad = offsets.findIndex((o, i) => o !== i + 1);
			if (bad >= 0) {
				gaps = true;
				say(
					`the ${name} copy's ${stream === 1 ? "visitor" : "agent"} stream has offsets ${compactRange(offsets)}`
				);
			}
		}
	}
	if (gaps) found.offsetGaps++;

	// Transcripts: every message of every copy, once, wherever the chat was persisted.
	const everyId = new Set(
		copies.flatMap(([, messages]) => messages.map((m) => m.id))
	);
	let short = false;
	for (const { deployment, messageIds } of chat.transcripts) {
		const persisted = new Set(messageIds);
		const missing = [...everyId].filter((id) => !persisted.has(id));
		if (missing.length > 0) {
			short = true;
			say(
				`the transcript persisted on ${deployment} lacks ${missing.length} message(s): ${missing.slice(0, 5).join(", ")}${missing.length > 5 ? ", …" : ""}`
			);
		}
		if (persisted.size !== messageIds.length) {
			found.doubled += messageIds.length - persisted.size;
			say(
				`the transcript persisted on ${deployment} holds ${messageIds.length - persisted.size} message(s) twice`
			);
		}
	}
	if (short) found.transcriptsShort++;
	const missingOn = chat.mustBePersistedOn.filter(
		(d) => !chat.transcripts.some((t) => t.deployment === d)
	);
	if (missingOn.length > 0 || chat.mustBePersistedOn.length === 0) {
		found.notPersisted++;
		say(
			missingOn.length > 0
				? `ended on ${missingOn.join(", ")} but not persisted there`
				: "no deployment took its end"
		);
	}
	return found;
}

function sideOf(chat: ChatOutcome, id: string): string {
	for (const side of ["visitor", "agent"] as const) {
		const at = chat.sent[side].indexOf(id);
		if (at >= 0) return `${side}'s message #${at + 1}`;
	}
	return "not sent by a client";
}

/** Undefined when the two copies are the same; otherwise what differs first. */
function describeDifference(
	a: ChatMessage[],
	b: ChatMessage[]
): string | undefined {
	const fields = (m: ChatMessage) =>
		JSON.stringify([
			m.type,
			m.dataOffset,
			m.sendTime,
			m.senderId ?? null,
			m.content,
		]);
	const inB = new Map(b.map((m) => [m.id, m]));
	const changed = a.filter(
		(m) => inB.has(m.id) && fields(inB.get(m.id)!) !== fields(m)
	);
	const at = a.findIndex((m, i) => placeOf(m) !== (b[i] && placeOf(b[i])));
	if (changed.length === 0 && at < 0 && a.length === b.length) return undefined;
	const parts: string[] = [];
	if (at >= 0 || a.length !== b.length) {
		const index = at >= 0 ? at : Math.min(a.length, b.length);
		const show = (ms: ChatMessage[]) =>
			ms
				.slice(Math.max(0, index - 1), index + 3)
				.map(placeOf)
				.join(" ") || "(end)";
		parts.push(
			`${a.length} vs ${b.length} messages, first difference at position ${index + 1}: [${show(a)}] vs [${show(b)}]`
		);
	}
	for (const m of changed.slice(0, 3)) {
		const other = inB.get(m.id)!;
		parts.push(
			`message ${placeOf(m)} has sendTime ${m.sendTime} vs ${other.sendTime}${m.dataOffset !== other.dataOffset ? `, offset ${m.dataOffset} vs ${other.dataOffset}` : ""}`
		);
	}
	if (changed.length > 3)
		parts.push(`and ${changed.length - 3} more message(s) differ`);
	return parts.join("; ");
}

/** 1-5,7,7,9 */
function compactRange(offsets: number[]): string {
	const parts: string[] = [];
	for (let i = 0; i < offsets.length;) {
		let j = i;
		while (j + 1 < offsets.length && offsets[j + 1] === offsets[j]! + 1) j++;
		parts.push(i === j ? String(offsets[i]) : `${offsets[i]}-${offsets[j]}`);
		i = j + 1;
	}
	return parts.join(",") || "(none)";
}
