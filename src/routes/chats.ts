import { Hono } from "hono";
import { z } from "zod";
import { agentRefOf, callerOf } from "../../durable-objects/room-contract.ts";
import {
	ROOM_CHAT_HEADER,
	ROOM_FRAMES_LIMIT_HEADER,
	ROOM_SITE_HEADER,
	ROOM_SOCKETS_LIMIT_HEADER,
} from "../../durable-objects/room-frames.ts";
import { requireToken } from "../auth.ts";
import { clientAddressKey } from "../client-address.ts";
import { ApiError } from "../errors.ts";
import {
	assertContentLength,
	limitBody,
	parseChains,
	parseJson,
	parseOffsets,
} from "../http.ts";
import { admitUpgrade, withinRate } from "../limits.ts";
import {
	MAX_START_BODY_BYTES,
	MAX_WAIT_SECONDS,
	RebuildChatSchema,
	SendMessageSchema,
	StartChatSchema,
} from "../protocol/chat.ts";
import { keyRing } from "../security/keys.ts";
import { signVisitorToken } from "../security/tokens.ts";
import {
	openVisitorState,
	sealVisitorState,
} from "../security/visitor-state.ts";
import { getSiteConfig } from "../site-config-cache.ts";
import { refuseBanned } from "../visitor-bans.ts";
import { chatRoom, replyFromRoom, siteDispatcher, unwrap } from "./room.ts";
import type { AppEnv } from "../auth.ts";
import type { ChatStatus, StartChatResult } from "../protocol/chat.ts";

const SEND_BODY_LIMIT = 32 * 1024;
/** 500 messages of 4,000 characters, up to 3 bytes each, plus their envelopes. */
const REBUILD_BODY_LIMIT = 8 * 1024 * 1024;

const WaitSchema = z
	.string()
	.regex(/^\d{1,2}$/)
	.transform(Number)
	.pipe(z.number().max(MAX_WAIT_SECONDS))
	.optional();

export const SITE = "/sites/:siteId{[A-Za-z0-9_-]{1,64}}";
export const CHAT = `${SITE}/chats/:chatId{[0-9a-f-]{36}}`;

export const chats = new Hono<AppEnv>()
	.post(`${SITE}/chats`, limitBody(MAX_START_BODY_BYTES), async (c) => {
		const siteId = c.req.param("siteId");
		const body = await parseJson(c, StartChatSchema);
		const config = await getSiteConfig(c.env.SITE_CONFIG, siteId);
		if (!config) throw new ApiError(404, "not_found", "no such site");
		const known =
			body.visitorState === undefined
				? undefined
				: await openVisitorState(c.env, siteId, body.visitorState);
		if (body.visitorState !== undefined && !known)
			throw new ApiError(
				403,
				"invalid_visitor_state",
				"visitorState does not open"
			);
		await withinRate(
			c.env,
			`chat-start:${siteId}:${clientAddressKey(c.req.raw)}`,
			config.limits.chatStartsPerMinutePerAddress,
			"too many chats started from this address, try again shortly"
		);
		// Only a returning visitor can be banned: a new visitorId is made just below.
		if (known) await refuseBanned(c.env, siteId, known.visitorId);
		const chatId = crypto.randomUUID();
		const visitorId = known?.visitorId ?? crypto.randomUUID();
		const started = unwrap<{
			chatState: string;
			status: ChatStatus;
			queuePosition?: number;
		}>(
			await chatRoom(c.env, siteId, chatId).start({
				siteId,
				chatId,
				visitorId,
				...(known?.lastAgentId ? { lastAgentId: known.lastAgentId } : {}),
				visitor: body.visitor,
				prechat: body.prechat,
				department: body.department,
				customVariables: body.customVariables,
				limits: {
					maxMessageLength: config.limits.maxMessageLength,
					messagesPerMinutePerVisitor:
						config.limits.messagesPerMinutePerVisitor,
				},
			})
		);
		const token = await signVisitorToken(keyRing(c.env), {
			visitorId,
			siteId,
			chatId,
		});
		// The last agent stays in the state until the visitor chats with another one.
		const visitorState = await sealVisitorState(
			c.env,
			siteId,
			known?.lastAgentId
				? { visitorId, lastAgentId: known.lastAgentId }
				: { visitorId }
		);
		const result: StartChatResult = {
			chatId,
			visitorId,
			token,
			chatState: started.chatState,
			visitorState,
			visitorDataOffset: 0,
			agentDataOffset: 0,
			status: started.status,
			...(started.queuePosition !== undefined
				? { queuePosition: started.queuePosition }
				: {}),
		};
		return c.json(result, 201);
	})
	.post(
		`${CHAT}/messages`,
		limitBody(SEND_BODY_LIMIT),
		requireToken,
		async (c) => {
			const { siteId, chatId } = c.req.param();
			const offsets = parseOffsets(c);
			const body = await parseJson(c, SendMessageSchema);
			assertContentLength([body.content]);
			const chains = parseChains(c);
			const caller = callerOf(c.get("claims"), siteId, chatId);
			return replyFromRoom(
				c,
				await chatRoom(c.env, siteId, chatId).send(
					caller,
					offsets,
					body,
					chains
				)
			);
		}
	)
	.get(`${CHAT}/messages`, requireToken, async (c) => {
		const { siteId, chatId } = c.req.param();
		const offsets = parseOffsets(c);
		const wait = WaitSchema.safeParse(c.req.query("wait"));
		if (!wait.success)
			throw new ApiError(
				400,
				"invalid_request",
				`wait must be an integer number of seconds from 0 to ${MAX_WAIT_SECONDS}`
			);
		const chains = parseChains(c);
		const caller = callerOf(c.get("claims"), siteId, chatId);
		return replyFromRoom(
			c,
			await chatRoom(c.env, siteId, chatId).poll(
				caller,
				offsets,
				(wait.data ?? 0) * 1000,
				chains
			)
		);
	})
	.post(
		`${CHAT}/rebuild`,
		limitBody(REBUILD_BODY_LIMIT),
		requireToken,
		async (c) => {
			const { siteId, chatId } = c.req.param();
			const body = await parseJson(c, RebuildChatSchema);
			assertContentLength(body.messages.map((m) => m.content));
			const caller = callerOf(c.get("claims"), siteId, chatId);
			return replyFromRoom(
				c,
				await chatRoom(c.env, siteId, chatId).rebuild(caller, body)
			);
		}
	)
	.get(`${CHAT}/ws`, async (c) => {
		const { siteId, chatId } = c.req.param();
		const { config, forward } = await admitUpgrade(c, siteId);
		// The token comes in the hello frame, not the URL (where logs would keep it); the room checks it.
		return chatRoom(c.env, siteId, chatId).fetch(
			forward({
				[ROOM_SITE_HEADER]: siteId,
				[ROOM_CHAT_HEADER]: chatId,
				[ROOM_SOCKETS_LIMIT_HEADER]: String(config.limits.socketsPerChat),
				[ROOM_FRAMES_LIMIT_HEADER]: String(
					config.limits.framesPerSecondPerSocket
				),
			})
		);
	})
	.post(`${CHAT}/end`, limitBody(1024), requireToken, async (c) => {
		const { siteId, chatId } = c.req.param();
		const offsets = parseOffsets(c);
		const chains = parseChains(c);
		const caller = callerOf(c.get("claims"), siteId, chatId);
		return replyFromRoom(
			c,
			await chatRoom(c.env, siteId, chatId).end(caller, offsets, chains)
		);
	})
	.post(`${CHAT}/accept`, limitBody(1024), requireToken, async (c) => {
		const { siteId, chatId } = c.req.param();
		const agent = agentRefOf(c.get("claims"));
		if (!agent)
			throw new ApiError(403, "forbidden", "only agents accept chats");
		// Through the dispatcher (SPEC §7), which counts the agent's load; the room has the last word.
		const answer = await siteDispatcher(c.env, siteId).accept(
			siteId,
			agent,
			chatId
		);
		if ("chatState" in answer && "chatId" in answer) return c.json(answer, 200);
		// A room that lost the chat answers code 1: the visitor's next call rebuilds it.
		return replyFromRoom(c, answer);
	});
