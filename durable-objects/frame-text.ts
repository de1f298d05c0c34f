/** A socket frame's text, read as JSON (src/protocol/json-text.ts) and checked against the frame's schema. */
import { parseJsonText } from "../src/protocol/json-text.ts";
import type { z } from "zod";

/** The frame, or the message of the `invalid_request` error frame that answers it. */
export function parseFrame<T>(
	schema: z.ZodType<T>,
	raw: string
): { ok: true; value: T } | { ok: false; message: string } {
	const text = parseJsonText(raw);
	if (!text.ok) return text;
	const parsed = schema.safeParse(text.value);
	return parsed.success
		? { ok: true, value: parsed.data }
		: {
				ok: false,
				message: parsed.error.issues.map((i) => i.message).join("; "),
			};
}
