/**
 * JSON from outside (HTTP bodies, WebSocket frames), parsed before any schema sees it (SPEC §6):
 * nesting is bounded before parsing, so nothing downstream recurses without limit, and every
 * string (keys too) must be well-formed Unicode: SQLite stores a lone surrogate as U+FFFD, which
 * would change signed text and merge distinct ids.
 */

/** Deep enough for every wire shape (site config is the deepest, at five); a few levels of free-form prechat. */
export const MAX_JSON_DEPTH = 8;

export type JsonText =
	{ ok: true; value: unknown } | { ok: false; message: string };

export function parseJsonText(
	raw: string,
	maxDepth = MAX_JSON_DEPTH
): JsonText {
	if (nestingOf(raw) > maxDepth)
		return {
			ok: false,
			message: `JSON is nested deeper than ${maxDepth} levels`,
		};
	let value: unknown;
	try {
		value = JSON.parse(raw);
	} catch {
		return { ok: false, message: "body is not valid JSON" };
	}
	return wellFormed(value)
		? { ok: true, value }
		: {
				ok: false,
				message: "text must be well-formed Unicode (no lone surrogates)",
			};
}

/** Deepest bracket nesting outside strings; stops counting once it is too deep to matter. */
function nestingOf(raw: string): number {
	let depth = 0;
	let deepest = 0;
	let inString = false;
	for (let i = 0; i < raw.length; i++) {
		const c = raw.charCodeAt(i);
		if (inString) {
			if (c === 0x5c)
				i++; // backslash: skip the escaped character
			else if (c === 0x22) inString = false;
		} else if (c === 0x22) inString = true;
		else if (c === 0x7b || c === 0x5b) {
			if (++depth > deepest) deepest = depth;
		} else if (c === 0x7d || c === 0x5d) depth--;
	}
	return deepest;
}

/** Depth is already bounded, so plain recursion is safe. */
function wellFormed(value: unknown): boolean {
	if (typeof value === "string") return value.isWellFormed();
	if (Array.isArray(value)) return value.every(wellFormed);
	if (value !== null && typeof value === "object") {
		for (const [key, v] of Object.entries(value))
			if (!key.isWellFormed() || !wellFormed(v)) return false;
	}
	return true;
}
