/**
 * The HTTP status of every error type the service answers (SPEC §4), in one table: the Worker
 * answers with it, and a client maps a WebSocket error frame (which has only the type) to the
 * status its HTTP twin would have had. Pure data: the widget bundles it.
 */
export const ERROR_STATUS = {
	invalid_request: 400,
	unauthorized: 401,
	forbidden: 403,
	banned: 403,
	not_in_chat: 403,
	invalid_mac: 403,
	invalid_chat_state: 403,
	invalid_visitor_state: 403,
	origin_not_allowed: 403,
	not_found: 404,
	chat_ended: 409,
	conflict: 409,
	at_capacity: 409,
	payload_too_large: 413,
	upgrade_required: 426,
	rate_limited: 429,
	internal_error: 500,
	unavailable: 503,
} as const;

export type ErrorType = keyof typeof ERROR_STATUS;

/** The status of an error type; 500 for one this table does not know (a newer server's). */
export const statusOfError = (type: string): number =>
	Object.hasOwn(ERROR_STATUS, type) ? ERROR_STATUS[type as ErrorType] : 500;
