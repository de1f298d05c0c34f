/** Events on the queues (SPEC §8): the envelope, the first-level names, and the payloads we publish. The second level, one queue per integration, is queues/integrations/index.ts. */
import { z } from "zod";
import { MAX_CONTENT_LENGTH, MessageTypeSchema } from "./chat.ts";

/** Events whose payloads persistence keeps as they came, in the event log. */
export const LOG_EVENTS = [
	"cannedMessage.useLog",
	"privateMessage.log",
	"chatQueue.log",
	"agentStatus.log",
	"invitation.log",
	"visit.log",
	"conversion.log",
	"agent.savePreference",
	"agent.ban",
] as const;

export const FIRST_LEVEL_EVENTS = [
	"chat.end",
	"chat.transcript",
	"offlineMessage.submit",
	"agent.wrapup",
	"visitor.rating",
	...LOG_EVENTS,
] as const;
export type EventName = (typeof FIRST_LEVEL_EVENTS)[number];

/** `name` is dotted: a first-level event, or `<event>.<integration>` on the second level. */
export const EnvelopeSchema = z.object({
	uniqueId: z.string().min(1).max(200),
	name: z.string().min(1).max(100),
	siteId: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/),
	payload: z.unknown(),
	publishedAt: z.number().int().nonnegative(),
});
export type Envelope<P = unknown> = Omit<
	z.infer<typeof EnvelopeSchema>,
	"payload"
> & { payload: P };

export const TranscriptMessageSchema = z.object({
	id: z.string(),
	type: MessageTypeSchema,
	dataOffset: z.number().int(),
	content: z.string(),
	sendTime: z.number().int(),
	senderId: z.string().optional(),
	senderName: z.string().optional(),
});
export type TranscriptMessage = z.infer<typeof TranscriptMessageSchema>;

const nullableText = z.string().nullable();

/** The seed's chat.end payload, plus the visitor and the transcript. */
export const ChatEndPayloadSchema = z.object({
	id: z.string(),
	siteId: z.string(),
	visitorId: z.string(),
	sessionId: z.string(),
	visitor: z.object({ name: nullableText, email: nullableText }),
	ticket: z.object({ id: z.string(), ifNew: z.boolean(), title: z.string() }),
	prechat: z.object({
		name: nullableText,
		email: nullableText,
		phone: nullableText,
		productService: nullableText,
		department: nullableText,
	}),
	wrapup: z
		.object({ comment: nullableText, category: nullableText })
		.nullable(),
	agentIds: z.array(z.string()),
	ifEnterQueue: z.boolean(),
	requestTime: z.number().int(),
	startTime: z.number().int().nullable(),
	endTime: z.number().int(),
	transcript: z.array(TranscriptMessageSchema),
});
export type ChatEndPayload = z.infer<typeof ChatEndPayloadSchema>;

/**
 * `chat.transcript` (SPEC §3, §8): a chat gained messages after its end (a later, fuller rebuild of
 * the ended chat). The room publishes it on the `chat-end` queue with uniqueId
 * `chat.transcript:<chatId>:<visitorOffset>:<agentOffset>` (`chatTranscriptId` in queues/publisher.ts),
 * and only persistence takes it: it adds the messages and agents the stored chat lacks and never
 * removes anything. Outside effects (email, webhook, CRMs) stay with chat.end.
 * - `id`: the chat id; `siteId`, `visitorId` as in chat.end;
 * - `agentIds`: every agent the room knows took part (unioned with the stored ones);
 * - `transcript`: the whole transcript the room now holds, display order, without macs (merged by message id);
 * - `endTime`: the chat's end as the room holds it (the stored chat keeps its own).
 */
export const ChatTranscriptPayloadSchema = z.object({
	id: z.string(),
	siteId: z.string(),
	visitorId: z.string(),
	agentIds: z.array(z.string()),
	transcript: z.array(TranscriptMessageSchema),
	endTime: z.number().int(),
});
export type ChatTranscriptPayload = z.infer<typeof ChatTranscriptPayloadSchema>;

/** Body of `POST /v1/sites/{siteId}/offline-messages`. `id` makes a retried submit count once. */
export const OfflineMessageSchema = z.strictObject({
	id: z.uuid().optional(),
	name: z.string().trim().min(1).max(200).optional(),
	email: z.email().max(320),
	phone: z.string().max(50).optional(),
	department: z.string().max(100).optional(),
	message: z.string().trim().min(1).max(MAX_CONTENT_LENGTH),
});

export const OfflineMessagePayloadSchema = z.object({
	id: z.string(),
	siteId: z.string(),
	name: nullableText,
	email: z.string(),
	phone: nullableText,
	department: nullableText,
	message: z.string(),
	submittedAt: z.number().int(),
});
export type OfflineMessagePayload = z.infer<typeof OfflineMessagePayloadSchema>;

/** Body of `POST …/rating`. `id` (optional) makes a client's retry count once. */
export const RatingSchema = z.strictObject({
	id: z.uuid().optional(),
	rating: z.number().int().min(1).max(5),
	comment: z.string().trim().max(2000).optional(),
});

export const RatingPayloadSchema = z.object({
	chatId: z.string(),
	siteId: z.string(),
	visitorId: z.string(),
	rating: z.number().int().min(1).max(5),
	comment: nullableText,
	ratedAt: z.number().int(),
});
export type RatingPayload = z.infer<typeof RatingPayloadSchema>;

/** Body of `POST …/wrapup`. `id` (optional) makes a client's retry count once. */
export const WrapupSchema = z.strictObject({
	id: z.uuid().optional(),
	category: z.string().trim().min(1).max(100).optional(),
	comment: z.string().trim().max(2000).optional(),
});
export type Wrapup = z.infer<typeof WrapupSchema>;

export const WrapupPayloadSchema = z.object({
	chatId: z.string(),
	siteId: z.string(),
	agentId: z.string(),
	category: nullableText,
	comment: nullableText,
	wrappedUpAt: z.number().int(),
});
export type WrapupPayload = z.infer<typeof WrapupPayloadSchema>;

/** The log events carry whatever their producer records; persistence keeps them as they came. */
export const LogPayloadSchema = z.record(z.string(), z.unknown());

const checked = <E extends z.ZodType<EventName>, P extends z.ZodType>(
	event: E,
	payload: P
) => EnvelopeSchema.extend({ event, payload });

/**
 * An envelope whose payload its first-level event's schema checked, one variant per event: `event`
 * is the first-level name (a second-level envelope's `name` is `<event>.<integration>`), and
 * narrowing it narrows `payload`. The queue consumers parse with it and act on nothing else.
 */
export const CheckedEnvelopeSchema = z.discriminatedUnion("event", [
	checked(z.literal("chat.end"), ChatEndPayloadSchema),
	checked(z.literal("chat.transcript"), ChatTranscriptPayloadSchema),
	checked(z.literal("offlineMessage.submit"), OfflineMessagePayloadSchema),
	checked(z.literal("agent.wrapup"), WrapupPayloadSchema),
	checked(z.literal("visitor.rating"), RatingPayloadSchema),
	checked(z.enum(LOG_EVENTS), LogPayloadSchema),
]);
export type CheckedEnvelope = z.infer<typeof CheckedEnvelopeSchema>;

// Does not compile while a first-level event has no variant above.
type EveryEventChecked<T extends never> = T;
type _Unchecked = EveryEventChecked<
	Exclude<EventName, CheckedEnvelope["event"]>
>;
