/**
 * Persisted transcripts, read back from D1 (SPEC §4): an agent sees the chats it took part in (SPEC §7),
 * a supervisor every chat of its site.
 */
import { createRoute, z } from "@hono/zod-openapi";
import { inDisplayOrder } from "../../durable-objects/chat-model.ts";
import { agentRefOf } from "../../durable-objects/room-contract.ts";
import { requireToken } from "../auth.ts";
import { ApiError } from "../errors.ts";
import { AGENT, answer, errors } from "../openapi-answers.ts";
import { Api } from "../openapi.ts";
import { HistoryChatSchema, HistoryPageSchema } from "../protocol/answers.ts";
import { ChatParams, SITE, SiteParams } from "./paths.ts";
import type { AppEnv } from "../auth.ts";
import type { TranscriptMessage } from "../protocol/events.ts";

const QUERY_MESSAGE =
	"limit is 1 to 100; before is the next cursor of a previous page";
const ListQuerySchema = z.object({
	limit: z
		.string()
		.regex(/^\d{1,3}$/, QUERY_MESSAGE)
		.refine((n) => Number(n) >= 1 && Number(n) <= 100, QUERY_MESSAGE)
		.optional()
		.openapi({
			description: "At most this many chats (1 to 100, 50 if left out).",
		}),
	before: z
		.string()
		.regex(/^\d{1,15}_[0-9a-f-]{36}$/, QUERY_MESSAGE)
		.optional()
		.openapi({
			description: "The `next` of the previous page: `<endTime>_<chatId>`.",
		}),
	q: z
		.string()
		.trim()
		.min(1, QUERY_MESSAGE)
		.max(100, QUERY_MESSAGE)
		.optional()
		.openapi({
			description:
				"Words to find in the visitor's name or email, or in a message of the chat.",
		}),
});

/** A LIKE pattern that matches `text` literally anywhere (`\\` escapes % and _). */
const containing = (text: string) =>
	`%${text.replace(/[\\%_]/g, (ch) => `\\${ch}`)}%`;

interface ChatRow {
	id: string;
	visitor_id: string;
	visitor_name: string | null;
	visitor_email: string | null;
	agent_ids: string;
	request_time: number;
	start_time: number | null;
	end_time: number;
	message_count: number;
	payload: string;
	rating: number | null;
	rating_comment: string | null;
}

const COLUMNS = `chats.*, ratings.rating AS rating, ratings.comment AS rating_comment`;
const WITH_RATING = `LEFT JOIN ratings ON ratings.chat_id = chats.id`;

function summary(row: ChatRow) {
	return {
		chatId: row.id,
		visitorId: row.visitor_id,
		visitor: { name: row.visitor_name, email: row.visitor_email },
		agentIds: JSON.parse(row.agent_ids) as string[],
		requestTime: row.request_time,
		startTime: row.start_time,
		endTime: row.end_time,
		messageCount: row.message_count,
		rating:
			row.rating === null
				? null
				: { rating: row.rating, comment: row.rating_comment },
	};
}

const historyCall = {
	tags: ["Agent"],
	security: AGENT,
	middleware: [requireToken],
};

export const history = new Api()
	.endpoint(
		createRoute({
			...historyCall,
			method: "get",
			path: `${SITE}/history/chats`,
			summary: "Persisted chats, newest first",
			request: { params: SiteParams, query: ListQuerySchema },
			responses: {
				200: answer("A page of chats", HistoryPageSchema),
				...errors(400, 401, 403),
			},
		}),
		async (c) => {
			const { siteId } = c.req.valid("param");
			const reader = readerOf(c.get("claims"));
			const query = c.req.valid("query");
			const { before, q } = query;
			const limit = Number(query.limit ?? 50);
			const like = q === undefined ? null : containing(q);
			const [endTime, chatId] = before
				? [
						Number(before.slice(0, before.indexOf("_"))),
						before.slice(before.indexOf("_") + 1),
					]
				: [Number.MAX_SAFE_INTEGER, ""];
			const matches = `(? IS NULL OR chats.visitor_name LIKE ? ESCAPE '\\' OR chats.visitor_email LIKE ? ESCAPE '\\'
			 OR EXISTS (SELECT 1 FROM chat_messages m WHERE m.chat_id = chats.id AND m.content LIKE ? ESCAPE '\\'))`;
			// The cursor, then the search words for each place they may match, then one more row than the page.
			const window = [
				endTime,
				endTime,
				before ? chatId : "~",
				like,
				like,
				like,
				like,
				limit + 1,
			];
			// Newest first, on an index: the site's chats (chats_by_site_end) for a supervisor, the agent's own (chat_agents) otherwise.
			const statement = reader.supervisor
				? c.env.DB.prepare(
						`SELECT ${COLUMNS} FROM chats ${WITH_RATING}
					 WHERE chats.site_id = ? AND (chats.end_time < ? OR (chats.end_time = ? AND chats.id < ?)) AND ${matches}
					 ORDER BY chats.end_time DESC, chats.id DESC LIMIT ?`
					).bind(siteId, ...window)
				: c.env.DB.prepare(
						`SELECT ${COLUMNS} FROM chat_agents ca JOIN chats ON chats.id = ca.chat_id ${WITH_RATING}
					 WHERE ca.site_id = ? AND ca.agent_id = ? AND (ca.end_time < ? OR (ca.end_time = ? AND ca.chat_id < ?)) AND ${matches}
					 ORDER BY ca.end_time DESC, ca.chat_id DESC LIMIT ?`
					).bind(siteId, reader.agentId, ...window);
			const { results } = await statement.all<ChatRow>();
			const page = results.slice(0, limit);
			const last = page.at(-1);
			return c.json({
				chats: page.map(summary),
				next:
					results.length > limit && last ? `${last.end_time}_${last.id}` : null,
			});
		}
	)
	.endpoint(
		createRoute({
			...historyCall,
			method: "get",
			path: `${SITE}/history/chats/{chatId}`,
			summary: "One persisted chat: its transcript, wrap-ups and rating",
			request: { params: ChatParams },
			responses: {
				200: answer("The chat", HistoryChatSchema),
				...errors(401, 403, 404),
			},
		}),
		async (c) => {
			const { siteId, chatId } = c.req.valid("param");
			const reader = readerOf(c.get("claims"));
			const row = await c.env.DB.prepare(
				`SELECT ${COLUMNS} FROM chats ${WITH_RATING} WHERE chats.id = ? AND chats.site_id = ?
			 AND (? OR EXISTS (SELECT 1 FROM chat_agents ca WHERE ca.site_id = chats.site_id AND ca.agent_id = ? AND ca.end_time = chats.end_time AND ca.chat_id = chats.id))`
			)
				.bind(chatId, siteId, reader.supervisor ? 1 : 0, reader.agentId)
				.first<ChatRow>();
			if (!row)
				throw new ApiError(
					404,
					"not_found",
					reader.supervisor
						? "no persisted chat with this id on this site"
						: "no persisted chat with this id that you took part in"
				);
			// Messages in display order, as on the clients (inDisplayOrder).
			const [messages, wrapups] = await c.env.DB.batch<Record<string, unknown>>(
				[
					c.env.DB.prepare(
						`SELECT id, type, data_offset AS dataOffset, content, send_time AS sendTime, sender_id AS senderId, sender_name AS senderName
				 FROM chat_messages WHERE chat_id = ?`
					).bind(chatId),
					c.env.DB.prepare(
						`SELECT agent_id AS agentId, category, comment, wrapped_up_at AS wrappedUpAt FROM wrapups WHERE chat_id = ? ORDER BY wrapped_up_at`
					).bind(chatId),
				]
			);
			const payload = JSON.parse(row.payload) as Record<string, unknown>;
			return c.json({
				chat: {
					...summary(row),
					prechat: payload.prechat,
					ticket: payload.ticket,
					wrapup: payload.wrapup,
					wrapups: wrapups!.results,
				},
				messages: inDisplayOrder(
					messages!.results.map(withoutNulls) as TranscriptMessage[]
				),
			});
		}
	);

function readerOf(claims: AppEnv["Variables"]["claims"]): {
	agentId: string;
	supervisor: boolean;
} {
	const agent = agentRefOf(claims);
	if (!agent) throw new ApiError(403, "forbidden", "history is for agents");
	return { agentId: agent.id, supervisor: agent.role === "supervisor" };
}

const withoutNulls = (row: Record<string, unknown>) =>
	Object.fromEntries(Object.entries(row).filter(([, v]) => v !== null));
