/** A message's text with its http(s) links clickable, as in the widget (web/link-parts.ts); never parsed as HTML. */
import { LINK_REL, LINK_TARGET, linkParts } from "../link-parts.ts";

export function Linked({ text }: { text: string }) {
	return (
		<>
			{linkParts(text).map((part, i) =>
				part.href ? (
					<a key={i} href={part.href} target={LINK_TARGET} rel={LINK_REL}>
						{part.text}
					</a>
				) : (
					part.text
				)
			)}
		</>
	);
}
