/**
 * Wire shapes of visitor tracking and the agents' side tools (SPEC §4, §5, §7): visits, the tracked
 * list, the page socket, invitations, bans, conversions, preferences and private messages.
 */
import { z } from "zod";
import { MessageIdSchema } from "./chat.ts";

/** visitorIds are made like chat ids: lower-case UUIDs. */
export const VisitorIdSchema = MessageIdSchema;

const visitorState = z.string().min(1).max(4096);
const page = z.string().min(1).max(2000);
const title = z.string().max(300);
const referrer = z.string().max(2000);

/** `POST …/visits`, on each page view (no token). */
export const VisitSchema = z.strictObject({
	visitorState: visitorState.optional(),
	page,
	title: title.optional(),
	referrer: referrer.optional(),
});

export interface VisitResult {
	visitorId: string;
	visitorState: string;
	/** False when the site tracks no visitors (`maxTrackedVisitors` 0): the page opens no page socket. */
	tracked: boolean;
}

/** An item of `GET …/visitors` (agents). Times are epoch ms; `timeOnSite` is ms since the visitor was first seen. */
export interface VisitorSummary {
	visitorId: string;
	page?: string;
	title?: string;
	referrer?: string;
	firstSeen: number;
	lastSeen: number;
	timeOnSite: number;
	/** It has a live chat (waiting or with an agent). */
	chatting: boolean;
	/** A page socket of it is open: an invitation reaches it. */
	connected: boolean;
	banned: boolean;
}

export const InviteVisitorSchema = z.strictObject({
	message: z.string().trim().min(1).max(1000),
});

/** Up to a year; without `minutes` the ban lasts until it is lifted. */
export const MAX_BAN_MINUTES = 525_600;
export const BanVisitorSchema = z.strictObject({
	reason: z.string().trim().min(1).max(500).optional(),
	minutes: z.number().int().min(1).max(MAX_BAN_MINUTES).optional(),
});

/** `POST …/conversions` from the page (`LiveChat.conversion(name, value)`). */
export const ConversionSchema = z.strictObject({
	visitorState,
	name: z.string().trim().min(1).max(100),
	value: z.number().optional(),
});

/** A console's own settings: `sound` and `notifications` are known; others are small flat values under plain names. */
const MAX_PREFERENCES = 30;
export const PreferencesSchema = z
	.object({
		sound: z.boolean().optional(),
		notifications: z.boolean().optional(),
	})
	.catchall(z.union([z.boolean(), z.number(), z.string().max(200), z.null()]))
	.refine((p) => Object.keys(p).length > 0, "nothing to save")
	.refine(
		(p) => Object.keys(p).length <= MAX_PREFERENCES,
		`at most ${MAX_PREFERENCES} preferences`
	)
	.refine(
		(p) =>
			Object.keys(p).every((key) => /^[A-Za-z][A-Za-z0-9_]{0,39}$/.test(key)),
		"preference names are letters, digits and _ (at most 40)"
	);

/** A private message to another agent of the site; longer content is 413, as in a chat. */
export const PrivateMessageSchema = z.strictObject({
	content: z.string().min(1),
});

/** The page socket's first frame (SPEC §5): the visitor's sealed state, and the page so the visit is re-announced. */
export const VisitorHelloFrameSchema = z.strictObject({
	type: z.literal("hello"),
	visitorState,
	page: page.optional(),
	title: title.optional(),
	referrer: referrer.optional(),
});

export type VisitorServerFrame =
	/** The hello was taken: the visitor is on the tracked list. */
	| { type: "tracking"; visitorId: string }
	| { type: "invitation"; agentName: string; message: string }
	| { type: "error"; error: { type: string; message: string } };
