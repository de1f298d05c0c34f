import { agentRefOf } from "../../durable-objects/room-contract.ts";
import { ApiError } from "../errors.ts";
import {
	AGENT_OFFSET_HEADER,
	VISITOR_OFFSET_HEADER,
} from "../protocol/chat.ts";
import type {
	AgentRef,
	RoomAnswer,
} from "../../durable-objects/room-contract.ts";
import type { AppEnv } from "../auth.ts";
import type { RoomFailure } from "../errors.ts";
import type { Context } from "hono";

export {
	chatRoom,
	siteDispatcher,
} from "../../durable-objects/room-contract.ts";

/** A room's answer, or the HTTP error its failure stands for. */
export function unwrap<T extends object>(answer: T | RoomFailure): T {
	if ("failure" in answer)
		throw new ApiError(
			answer.failure.status,
			answer.failure.type,
			answer.failure.message,
			undefined,
			answer.failure.retryAfter
		);
	return answer;
}

export function replyFromRoom(c: Context, roomAnswer: RoomAnswer): Response {
	const answer = unwrap(roomAnswer);
	c.header(VISITOR_OFFSET_HEADER, String(answer.visitorDataOffset));
	c.header(AGENT_OFFSET_HEADER, String(answer.agentDataOffset));
	return c.json(answer, 200);
}

/** The dispatcher's answer about a chat it handed on: the chat taken, or the room's failure or code 1. */
export function taken(
	c: Context,
	answer: { chatId: string; chatState?: string } | RoomAnswer,
	mark: "chatId" | "chatState" = "chatState"
): Response {
	if (mark in answer && "chatId" in answer) return c.json(answer, 200);
	return replyFromRoom(c, answer as RoomAnswer);
}

/** The agent behind the token; visitors are refused. */
export function agentOf(c: Context<AppEnv>): AgentRef {
	const agent = agentRefOf(c.get("claims"));
	if (!agent) throw new ApiError(403, "forbidden", "only agents may do this");
	return agent;
}
