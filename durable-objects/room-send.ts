/** A message sent by the visitor or an agent (SPEC §3, §4, §6): checked, rate-limited, appended. */
import { roomFailure } from "../src/errors.ts";
import { messageTypeOf } from "../src/protocol/offsets.ts";
import { publishCannedUse } from "./room-canned.ts";
import type { RoomFailure } from "../src/errors.ts";
import type { ChatMeta } from "../src/protocol/chat-state.ts";
import type {
	ChatMessage,
	Offsets,
	SendMessage,
} from "../src/protocol/chat.ts";
import type { Chains } from "./chat-chain.ts";
import type { Caller, RoomAnswer } from "./room-contract.ts";
import type { RoomCore } from "./room-core.ts";

const RATE_WINDOW_MS = 60_000;
/** VISITOR_SEND_LIMIT's limit a minute (wrangler.toml): twice the default per chat. */
const VISITOR_SENDS_ACROSS_CHATS = 120;
const secondsUntil = (at: number, now: number) =>
	Math.max(1, Math.ceil((at - now) / 1000));

/** `origin`: the socket it came in on, which is not sent the message again. */
export async function sendMessage(
	core: RoomCore,
	caller: Caller,
	offsets: Offsets,
	chains: Chains,
	body: SendMessage,
	origin?: WebSocket
): Promise<RoomAnswer> {
	const { bans } = core.parts;
	// Before the write queue: a room that has not heard of its visitor asks the dispatcher, once (room-bans.ts).
	if (caller.role === "visitor" && core.meta?.visitorId === caller.id)
		await bans.ready(core.meta);
	let appended = undefined as ChatMessage | undefined;
	const answer = await core.writes.run(async () => {
		const refused = await core.compare(caller, offsets, chains);
		if (refused) return refused;
		const meta = core.meta!;
		const existing = core.log.get(body.id);
		if (existing) return core.answer(offsets, [existing], caller);
		if (meta.status === "ended")
			return roomFailure(409, "chat_ended", "the chat has ended");
		if (body.content.length > meta.limits.maxMessageLength) {
			return roomFailure(
				413,
				"payload_too_large",
				`content is longer than ${meta.limits.maxMessageLength} characters`
			);
		}
		if (caller.role === "visitor") {
			const refused = bans.refusal() ?? (await visitorSendLimit(core, meta));
			if (refused) return refused;
		}
		const message = await core.newMessage(
			caller,
			[],
			messageTypeOf(caller.role),
			body.id,
			body.content
		);
		await core.commit(
			undefined,
			[message],
			undefined,
			origin && { ws: origin, has: new Set([body.id]) }
		);
		appended = message;
		return core.answer(offsets, [], caller);
	});
	// After the write, and not awaited by the answer (SPEC §4: a canned message from the console is logged).
	if (appended && body.canned && caller.role === "agent")
		core.parts.waitUntil(
			publishCannedUse(core.env, caller, appended, body.canned)
		);
	return answer;
}

/**
 * SPEC §6: sends per visitor. Counted from the chat's own messages, so neither an eviction nor a
 * restart resets it; and across the visitor's chats (a visitorId kept by visitorState) by the
 * Workers rate limit, so a new chat does not either.
 */
async function visitorSendLimit(
	core: RoomCore,
	meta: ChatMeta
): Promise<RoomFailure | undefined> {
	const perMinute = meta.limits.messagesPerMinutePerVisitor;
	const now = Date.now();
	if (core.log.countSince("visitor", now - RATE_WINDOW_MS) >= perMinute) {
		const oldest = core.log.at(
			"visitor",
			core.log.offsets.visitorDataOffset - perMinute + 1
		);
		return roomFailure(
			429,
			"rate_limited",
			"too many messages, slow down",
			secondsUntil((oldest?.sendTime ?? now) + RATE_WINDOW_MS, now)
		);
	}
	// The binding's limit is fixed in wrangler.toml: a site that allows more per chat (a load test) is counted per chat only.
	if (perMinute > VISITOR_SENDS_ACROSS_CHATS) return undefined;
	const { success } = await core.env.VISITOR_SEND_LIMIT.limit({
		key: `${meta.siteId}:${meta.visitorId}`,
	});
	return success
		? undefined
		: roomFailure(
				429,
				"rate_limited",
				"too many messages across your chats, slow down",
				60
			);
}
