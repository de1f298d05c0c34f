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
	) {
		super(message);
	}

	toBody(): ErrorResponse {
		const error: ErrorResponse["error"] = { type: this.type, message: this.message };
		if (this.issues !== undefined) error.issues = this.issues;
		return { code: -1, error };
	}
}

/** Room failures cross the RPC boundary as plain data (thrown errors lose their fields). */
export interface RoomFailure {
	failure: { status: ContentfulStatusCode; type: string; message: string };
}

export const roomFailure = (status: ContentfulStatusCode, type: string, message: string): RoomFailure => ({
	failure: { status, type, message },
});
