/**
 * A client's copy brought to the room (SPEC §3): the room takes what it lacks (re-signing what it
 * moves), answers what the client lacks, and asks for the whole stream where the histories differ.
 */
import { roomFailure } from "../src/errors.ts";
import { MessageType } from "../src/protocol/offsets.ts";
import { keyRing } from "../src/security/keys.ts";
import { macIsCurrent, verifyMessage } from "../src/security/message-mac.ts";
import { mergeChatMeta } from "./chat-meta.ts";
import { planRebuild } from "./chat-model.ts";
import { REREGISTER_EVERY_MS, RESTORED_HOLD_MS } from "./dispatch-model.ts";
import { notInChat } from "./room-core.ts";
import type { ChatMeta } from "../src/protocol/chat-state.ts";
import type { ChatMessage, RebuildChat } from "../src/protocol/chat.ts";
import type { Caller, RoomAnswer } from "./room-contract.ts";
import type { RoomCore } from "./room-core.ts";

/** `origin`: the socket the copy came on, which holds the messages it uploaded. */
export async function rebuildChat(
	core: RoomCore,
	caller: Caller,
	body: RebuildChat,
	origin?: WebSocket
): Promise<RoomAnswer> {
	const { announcements, dispatch } = core.parts;
	const offered =
		body.chatState === undefined
			? undefined
			: await core.openState(caller, body.chatState);
	if (offered === null)
		return roomFailure(403, "invalid_chat_state", "chatState does not open");
	// MACs depend only on the request, so they are checked before queueing behind other writers.
	for (const m of body.messages) {
		if (
			!(await verifyMessage(keyRing(core.env), caller.siteId, caller.chatId, m))
		) {
			return roomFailure(
				403,
				"invalid_mac",
				`message ${m.id} does not carry a valid mac`
			);
		}
	}
	const answer = await core.writes.run(async (): Promise<RoomAnswer> => {
		const meta = offered ? mergeChatMeta(core.meta, offered) : core.meta;
		if (!meta)
			return roomFailure(
				400,
				"invalid_request",
				"chatState is required to rebuild a chat the server does not have"
			);
		const forbidden = core.authorize(caller, meta);
		if (forbidden) return forbidden;
		// Only a chatState that lists the agent lets it in (SPEC §4): a visitor's older copy cannot keep it out, nor let another in.
		if (caller.role === "agent" && !meta.agentIds.includes(caller.id))
			return notInChat();
		if (!core.meta) announcements.markRestored();
		const plan = planRebuild(core.log, body.messages);
		const keys = keyRing(core.env);
		const appends: ChatMessage[] = [];
		const resealed: ChatMessage[] = [];
		for (const { message, resealed: moved } of plan.appends) {
			// senderName is not under the mac: it comes from the sealed state, never from the upload.
			const kept = withSenderName(meta, message);
			// A new place needs a new mac; so does a mac of a retired key, before that key leaves PREVIOUS_KEYS.
			const resign = moved || !macIsCurrent(keys, kept.mac);
			const final = resign
				? { ...kept, mac: await core.mac(caller, kept) }
				: kept;
			appends.push(final);
			if (resign) resealed.push(final);
		}
		const metaChanged = meta !== core.meta;
		const agentsBefore = core.meta?.agentIds;
		const endedNow = meta.status === "ended" && core.meta?.status !== "ended";
		const uploaded = origin && {
			ws: origin,
			has: new Set(
				appends.filter((m) => !resealed.includes(m)).map((m) => m.id)
			),
		};
		await core.commit(
			metaChanged ? meta : undefined,
			appends,
			meta === offered ? body.chatState : undefined,
			uploaded
		);
		for (const m of appends) core.noteSendTime(m);
		// The copy changed who has the chat (a split brain's end, a transfer or an end made elsewhere): the dispatcher may not know.
		if (endedNow) core.parts.waitUntil(dispatch.ended(meta));
		else if (metaChanged && !sameAgents(agentsBefore, meta)) {
			core.parts.waitUntil(dispatch.agentsChanged(meta));
			await core.parts.scheduleAlarm(Date.now() + REREGISTER_EVERY_MS);
		}
		// What the client lacks, every message the room moved, and every uploaded one the room holds otherwise
		// (two deployments accepted the same id at different times): the client takes the room's version.
		const heldOtherwise = body.messages.flatMap((m) => {
			const held = core.log.get(m.id);
			return held &&
				!appends.includes(held) &&
				(held.dataOffset !== m.dataOffset ||
					held.sendTime !== m.sendTime ||
					held.mac !== m.mac)
				? [held]
				: [];
		});
		const result = core.answer(body, [...resealed, ...heldOtherwise], caller);
		if (metaChanged) result.chatState = core.chatState;
		// The client's history still differs below its offsets: it uploads the whole stream and re-reads it (SPEC §3).
		const diverged = await core.log.diverged(body, body);
		if (diverged.length > 0) return { ...result, code: 1, diverged };
		return plan.heldBack > 0 ? { ...result, code: 1 } : result;
	});
	if (!("failure" in answer)) core.parts.caughtUp(caller);
	if (core.meta) await announcements.transcript(core.meta, core.log);
	// A waiting chat restored here (eviction in memory mode, another deployment) goes back into the queue, with its first request time.
	// It is held out of automatic routing until the alarm registers it again (RESTORED_HOLD_MS): a console
	// holding it as its own on another deployment says hello meanwhile, and routing it here too would give it two agents.
	if (core.meta?.status === "waiting" && dispatch.queuePosition === undefined) {
		await core.parts.scheduleAlarm(Date.now() + RESTORED_HOLD_MS);
		core.parts.waitUntil(dispatch.register(core.meta, true));
	}
	return answer;
}

function sameAgents(before: string[] | undefined, after: ChatMeta): boolean {
	if (after.status !== "chatting") return true;
	return (
		before !== undefined &&
		before.length === after.agentIds.length &&
		before.every((id) => after.agentIds.includes(id))
	);
}

function withSenderName(meta: ChatMeta, message: ChatMessage): ChatMessage {
	const { senderName: _uploaded, ...rest } = message;
	const name =
		message.type !== MessageType.Visitor && message.senderId
			? meta.agentNames[message.senderId]
			: undefined;
	return name ? { ...rest, senderName: name } : rest;
}
