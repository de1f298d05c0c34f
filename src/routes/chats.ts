/** A chat's calls (SPEC §3, §4, §5): start, send, poll, rebuild, the socket, end, and accept. */
import { createRoute, z } from "@hono/zod-openapi";
import {
	agentRefOf,
	callerOf,
	roomNameHeader,
} from "../../durable-objects/room-contract.ts";
import {
	ROOM_FRAMES_LIMIT_HEADER,
	ROOM_SOCKETS_LIMIT_HEADER,
} from "../../durable-objects/room-frames.ts";
import { requireToken } from "../auth.ts";
import { ApiError } from "../errors.ts";
import {
	assertContentLength,
	chainsOf,
	ChatHeadersSchema,
	limitBody,
	offsetsOf,
} from "../http.ts";
import { admitUpgrade } from "../limits.ts";
import {
	AGENT,
	chatTaken,
	errors,
	returnResult,
	socketUpgrade,
	VISITOR_OR_AGENT,
} from "../openapi-answers.ts";
import { Api } from "../openapi.ts";
import {
	MAX_WAIT_SECONDS,
	RebuildChatSchema,
	SendMessageSchema,
} from "../protocol/chat.ts";
import { CHAT, ChatParams } from "./paths.ts";
import { chatRoom, replyFromRoom, siteDispatcher, taken } from "./room.ts";
import type { AppEnv } from "../auth.ts";
import type { RouteConfig } from "@hono/zod-openapi";
import type { Context } from "hono";

const SEND_BODY_LIMIT = 32 * 1024;
/** 500 messages of 4,000 characters, up to 3 bytes each, plus their envelopes. */
const REBUILD_BODY_LIMIT = 8 * 1024 * 1024;

const WAIT_MESSAGE = `wait must be an integer number of seconds from 0 to ${MAX_WAIT_SECONDS}`;
const WaitQuerySchema = z.object({
	wait: z
		.string()
		.regex(/^\d{1,2}$/, WAIT_MESSAGE)
		.refine((wait) => Number(wait) <= MAX_WAIT_SECONDS, WAIT_MESSAGE)
		.optional()
		.openapi({
			description: `Long-poll: hold the answer up to this many seconds (at most ${MAX_WAIT_SECONDS}) until something newer exists.`,
		}),
});

/** A chat call (SPEC §3): the caller's offsets and chains in headers, a ReturnResult back. */
const chatCall = {
	tags: ["Chat"],
	security: VISITOR_OR_AGENT,
} satisfies Partial<RouteConfig>;
const chatRequest = { params: ChatParams, headers: ChatHeadersSchema };

/** The caller, its offsets and chains, and its room, for a chat call. */
function roomCall(
	c: Context<AppEnv>,
	{ siteId, chatId }: { siteId: string; chatId: string },
	headers: Partial<Record<string, string>> = {}
) {
	return {
		room: chatRoom(c.env, siteId, chatId),
		caller: callerOf(c.get("claims"), siteId, chatId),
		offsets: offsetsOf(headers),
		chains: chainsOf(headers),
	};
}

const send = createRoute({
	...chatCall,
	path: `${CHAT}/messages`,
	method: "post",
	summary: "Send a message",
	middleware: [limitBody(SEND_BODY_LIMIT), requireToken],
	request: {
		...chatRequest,
		body: { content: { "application/json": { schema: SendMessageSchema } } },
	},
	responses: {
		200: returnResult("The room's answer (code 0, or 1: rebuild first)"),
		...errors(400, 401, 403, 404, 409, 413, 429),
	},
});

const poll = createRoute({
	...chatCall,
	path: `${CHAT}/messages`,
	method: "get",
	summary: "Poll (heartbeat or long-poll)",
	middleware: [requireToken],
	request: { ...chatRequest, query: WaitQuerySchema },
	responses: {
		200: returnResult("What the caller lacks, or a call to rebuild"),
		...errors(400, 401, 403, 404),
	},
});

const rebuild = createRoute({
	...chatCall,
	path: `${CHAT}/rebuild`,
	method: "post",
	summary: "Rebuild the room's chat from the caller's copy (SPEC §3)",
	middleware: [limitBody(REBUILD_BODY_LIMIT), requireToken],
	request: {
		params: ChatParams,
		body: { content: { "application/json": { schema: RebuildChatSchema } } },
	},
	responses: {
		200: returnResult("The merged chat"),
		...errors(400, 401, 403, 404, 409, 413),
	},
});

const end = createRoute({
	...chatCall,
	path: `${CHAT}/end`,
	method: "post",
	summary: "End the chat (idempotent)",
	middleware: [limitBody(1024), requireToken],
	request: chatRequest,
	responses: {
		200: returnResult("The ended chat"),
		...errors(400, 401, 403, 404, 413),
	},
});

const accept = createRoute({
	method: "post",
	path: `${CHAT}/accept`,
	tags: ["Agent"],
	summary: "Take a waiting chat",
	security: AGENT,
	middleware: [limitBody(1024), requireToken],
	request: { params: ChatParams },
	responses: {
		200: chatTaken(
			"The chat and its state, which now lists the agent; or the room's code 1"
		),
		...errors(401, 403, 404, 409, 413),
	},
});

export const chatSocket = createRoute({
	method: "get",
	path: `${CHAT}/ws`,
	tags: ["Chat"],
	summary: "The chat's WebSocket (SPEC §5)",
	description: `Upgrades to a WebSocket handed to the chat's room. Frames are JSON text with a \`type\`.
Client → server: \`hello\` first, within 10 s, with the token (never in the URL), the offsets, optional chains and chatState;
\`send\` \`{message: {id, content, canned?}, visitorDataOffset?, agentDataOffset?, visitorChain?, agentChain?}\`; \`rebuild\` (a RebuildChat);
\`typing\` \`{on}\`; \`read\` \`{visitorDataOffset, agentDataOffset}\`; and the text \`ping\` (answered \`pong\`).
Server → client: \`sync\` (a ReturnResult), \`rebuild\` \`{visitorDataOffset, agentDataOffset}\` (−1/−1 = full), \`ack\` \`{id, dataOffset, sendTime, mac}\`,
\`message\` \`{message}\`, \`typing\`, \`read\`, \`state\` \`{chatState, status, queuePosition?, visitorState?}\`, \`ended\`, \`error\` \`{id?, error}\`.
A socket that fails auth is closed with 4401; a malformed frame gets an error frame.`,
	request: { params: ChatParams },
	...socketUpgrade("the room's"),
});

export const chats = new Api()
	.endpoint(send, async (c) => {
		const { room, caller, offsets, chains } = roomCall(
			c,
			c.req.valid("param"),
			c.req.valid("header")
		);
		const body = c.req.valid("json");
		assertContentLength([body.content]);
		return replyFromRoom(c, await room.send(caller, offsets, body, chains));
	})
	.endpoint(poll, async (c) => {
		const { room, caller, offsets, chains } = roomCall(
			c,
			c.req.valid("param"),
			c.req.valid("header")
		);
		const wait = Number(c.req.valid("query").wait ?? 0);
		return replyFromRoom(
			c,
			await room.poll(caller, offsets, wait * 1000, chains)
		);
	})
	.endpoint(rebuild, async (c) => {
		const { room, caller } = roomCall(c, c.req.valid("param"));
		const body = c.req.valid("json");
		assertContentLength(body.messages.map((m) => m.content));
		return replyFromRoom(c, await room.rebuild(caller, body));
	})
	.endpoint(chatSocket, async (c) => {
		const { siteId, chatId } = c.req.valid("param");
		const { config, forward } = await admitUpgrade(c, siteId);
		// The token comes in the hello frame, not the URL (where logs would keep it); the room checks it.
		return chatRoom(c.env, siteId, chatId).fetch(
			forward({
				...roomNameHeader(siteId, chatId),
				[ROOM_SOCKETS_LIMIT_HEADER]: String(config.limits.socketsPerChat),
				[ROOM_FRAMES_LIMIT_HEADER]: String(
					config.limits.framesPerSecondPerSocket
				),
			})
		);
	})
	.endpoint(end, async (c) => {
		const { room, caller, offsets, chains } = roomCall(
			c,
			c.req.valid("param"),
			c.req.valid("header")
		);
		return replyFromRoom(c, await room.end(caller, offsets, chains));
	})
	.endpoint(accept, async (c) => {
		const { siteId, chatId } = c.req.valid("param");
		const agent = agentRefOf(c.get("claims"));
		if (!agent)
			throw new ApiError(403, "forbidden", "only agents accept chats");
		// Through the dispatcher (SPEC §7), which counts the agent's load; the room has the last word.
		// A room that lost the chat answers code 1: the visitor's next call rebuilds it.
		return taken(
			c,
			await siteDispatcher(c.env, siteId).accept(siteId, agent, chatId)
		);
	});
