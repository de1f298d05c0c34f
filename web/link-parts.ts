/**
 * Links in a message (SPEC §9: made clickable, safely), shared by the widget and the console: the
 * text is cut into plain parts and http(s) URLs, which each side renders as text nodes and anchors.
 * Nothing in a message is ever parsed as HTML, and no other scheme (javascript:, data:) becomes a link.
 */
export interface TextPart {
	text: string;
	/** Set on a link: the URL, the same as its text. */
	href?: string;
}

/** What an anchor made from a message carries: a new tab, no opener, no referrer. */
export const LINK_TARGET = "_blank";
export const LINK_REL = "noopener noreferrer nofollow";

export function linkParts(text: string): TextPart[] {
	const parts: TextPart[] = [];
	let last = 0;
	for (const match of text.matchAll(/\bhttps?:\/\/[^\s<>"']+/g)) {
		// Punctuation that ends a sentence is not part of the link.
		const url = match[0].replace(/[.,;:!?)\]]+$/, "");
		if (!parses(url)) continue;
		if (match.index > last) parts.push({ text: text.slice(last, match.index) });
		parts.push({ text: url, href: url });
		last = match.index + url.length;
	}
	if (last < text.length) parts.push({ text: text.slice(last) });
	return parts;
}

/** Not URL.canParse: the widget runs in browsers older than it. */
function parses(url: string): boolean {
	try {
		return Boolean(new URL(url));
	} catch {
		return false;
	}
}
