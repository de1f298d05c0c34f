/**
 * What the Worker, the room and the room's socket code agree on: who calls, what a new chat is,
 * what the room answers. Room failures cross RPC as data (src/errors.ts).
 */
import type { RoomFailure } from "../src/errors.ts";
import type { ChatMeta } from "../src/protocol/chat-state.ts";
import type { ReturnResult } from "../src/protocol/chat.ts";
import type { Claims } from "../src/security/tokens.ts";

export interface Caller {
	role: "visitor" | "agent";
	/** visitorId or agentId */
	id: string;
	name?: string;
	siteId: string;
	chatId: string;
	/** An agent token's version (SPEC §6): a socket checks it is not revoked on each frame. */
	tokenVersion?: number;
	/** An agent token's id: signed out, that token is revoked alone (src/security/revocation.ts). */
	tokenId?: string;
	/** Supervisors may join or monitor any chat of their site (SPEC §4). */
	agentRole?: "agent" | "supervisor";
}

export type NewChat = Omit<
	ChatMeta,
	| "v"
	| "status"
	| "agentIds"
	| "agentNames"
	| "beginTime"
	| "startTime"
	| "endTime"
	| "wrapup"
	| "pastAgentIds"
>;

export type RoomAnswer = ReturnResult | RoomFailure;

/** The chat with its new state (an accept, join or transfer), a refusal, or the room's code 1 when it lost the chat. */
export type AcceptAnswer = { chatId: string; chatState: string } | RoomAnswer;

export const handedOver = (
	answer: AcceptAnswer
): answer is { chatId: string; chatState: string } =>
	"chatState" in answer && "chatId" in answer;

/** The caller a verified token stands for in one chat; whether it may act there is the room's to say. */
export function callerOf(
	claims: Claims,
	siteId: string,
	chatId: string
): Caller {
	return claims.role === "visitor"
		? { role: "visitor", id: claims.sub, siteId, chatId }
		: {
				role: "agent",
				id: claims.sub,
				name: claims.name,
				siteId,
				chatId,
				tokenVersion: claims.tv,
				tokenId: claims.jti,
				agentRole: claims.agentRole,
			};
}

/**
 * Whether a verified token may act in this chat: its site, and for a visitor its own chat (an agent's
 * right to the chat is the room's to say). What does not fit is named, for the caller's error.
 */
export function tokenMisfit(
	claims: Claims,
	siteId: string | undefined,
	chatId: string | undefined
): "site" | "chat" | undefined {
	if (claims.sid !== siteId) return "site";
	if (
		chatId !== undefined &&
		claims.role === "visitor" &&
		claims.cid !== chatId
	)
		return "chat";
	return undefined;
}

/** An agent as the caller of a chat operation the dispatcher (or the Worker for it) runs. */
export const agentCaller = (
	agent: Pick<AgentRef, "id" | "name" | "role">,
	siteId: string,
	chatId: string
): Caller => ({
	role: "agent",
	id: agent.id,
	name: agent.name,
	siteId,
	chatId,
	agentRole: agent.role,
});

/** A ChatRoom's name says its site and chat: the room reads them back from `ctx.id.name` (roomAddress). */
const roomName = (siteId: string, chatId: string) => `${siteId}/${chatId}`;

/**
 * The object's name, sent by the Worker with every socket it hands over. An object first woken without
 * it (by its alarm after a restart) has no `ctx.id.name` for as long as it lives, and must not refuse
 * every socket until it is evicted. The Worker sets it, so a client's own value never gets through.
 */
export const OBJECT_NAME_HEADER = "X-Object-Name";

export const roomNameHeader = (siteId: string, chatId: string) => ({
	[OBJECT_NAME_HEADER]: roomName(siteId, chatId),
});

/** The object's name: its own, else the one its Worker sent along. */
export const objectName = (
	ctx: DurableObjectState,
	request?: Request
): string | undefined =>
	ctx.id.name ?? request?.headers.get(OBJECT_NAME_HEADER) ?? undefined;

/** The site and chat a room's name stands for; undefined for a room not reached by its name. Site ids hold no "/". */
export function roomAddress(
	name: string | undefined
): { siteId: string; chatId: string } | undefined {
	const at = name?.indexOf("/") ?? -1;
	if (!name || at <= 0 || at === name.length - 1) return undefined;
	return { siteId: name.slice(0, at), chatId: name.slice(at + 1) };
}

/** One ChatRoom per chat, named from site and chat so any Worker instance (or the dispatcher) finds the same one. */
export const chatRoom = (env: Env, siteId: string, chatId: string) =>
	env.CHAT_ROOM.getByName(roomName(siteId, chatId));

/** One SiteDispatcher per site (SPEC §7), named by the site's id: the dispatcher reads it back from `ctx.id.name`. */
export const siteDispatcher = (env: Env, siteId: string) =>
	env.SITE_DISPATCHER.getByName(siteId);

/** An agent as a room or the dispatcher needs it, from its token's claims (never from D1). */
export interface AgentRef {
	id: string;
	name: string;
	role: "agent" | "supervisor";
	maxChats: number;
}

export const agentRefOf = (claims: Claims): AgentRef | undefined =>
	claims.role === "agent"
		? {
				id: claims.sub,
				name: claims.name,
				role: claims.agentRole,
				maxChats: claims.maxChats,
			}
		: undefined;

/** The room has no chat (SPEC §3 step 1): the client rebuilds it in full. */
export const lostChat = (): ReturnResult => ({
	code: 1,
	visitorDataOffset: -1,
	agentDataOffset: -1,
	messages: [],
});
