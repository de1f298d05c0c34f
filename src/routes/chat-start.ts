/** Starting a chat (SPEC §4): a new chat in its room, the visitor's token and sealed state. */
import { createRoute } from "@hono/zod-openapi";
import { clientAddressKey } from "../client-address.ts";
import { ApiError } from "../errors.ts";
import { limitBody } from "../http.ts";
import { withinRate } from "../limits.ts";
import { answer, errors, named, NO_TOKEN } from "../openapi-answers.ts";
import { Api, jsonBody } from "../openapi.ts";
import {
	MAX_START_BODY_BYTES,
	StartChatResultSchema,
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
import { SITE, SiteParams } from "./paths.ts";
import { chatRoom, unwrap } from "./room.ts";
import type { ChatStatus, StartChatResult } from "../protocol/chat.ts";

const start = createRoute({
	method: "post",
	path: `${SITE}/chats`,
	tags: ["Chat"],
	summary: "Start a chat",
	security: NO_TOKEN,
	middleware: [limitBody(MAX_START_BODY_BYTES)],
	request: {
		params: SiteParams,
		body: jsonBody(StartChatSchema),
	},
	responses: {
		201: answer(
			"The chat, its visitor token and sealed state",
			named("StartChatResult", StartChatResultSchema)
		),
		...errors(400, 403, 404, 413, 429),
	},
});

export const chatStart = new Api().endpoint(start, async (c) => {
	const { siteId } = c.req.valid("param");
	const body = c.req.valid("json");
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
				messagesPerMinutePerVisitor: config.limits.messagesPerMinutePerVisitor,
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
});
