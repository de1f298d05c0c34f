import type { ContentfulStatusCode } from "hono/utils/http-status";

export interface ErrorResponse {
	code: -1;
	error: { type: string; message: string; issues?: unknown };
}

/** An expected failure with its HTTP status and stable snake_case type (SPEC §4). */
export class ApiError extends Error {
	constructor(
		readonly status: ContentfulStatusCode,
		readonly type: string,
		message: string,
		readonly issues?: unknown,
		/** Seconds, for 429 and 503: sent as `Retry-After`. */
		readonly retryAfter?: number
	) {
		super(message);
	}

	toBody(): ErrorResponse {
		const error: ErrorResponse["error"] = {
			type: this.type,
			message: this.message,
		};
		if (this.issues !== undefined) error.issues = this.issues;
		return { code: -1, error };
	}
}

/** Room failures cross the RPC boundary as plain data (thrown errors lose their fields). */
export interface RoomFailure {
	failure: {
		status: ContentfulStatusCode;
		type: string;
		message: string;
		retryAfter?: number;
	};
}

export const roomFailure = (
	status: ContentfulStatusCode,
	type: string,
	message: string,
	retryAfter?: number
): RoomFailure => ({
	failure:
		retryAfter === undefined
			? { status, type, message }
			: { status, type, message, retryAfter },
});

/** An abuse limit (SPEC §6): 429 with the seconds to wait, and nothing stored. */
export const rateLimited = (message: string, retryAfter: number) =>
	new ApiError(
		429,
		"rate_limited",
		message,
		undefined,
		Math.max(1, Math.ceil(retryAfter))
	);
