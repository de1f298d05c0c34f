/**
 * What a visitor keeps across chats (SPEC §4), sealed: its id, so that its next chat is the same
 * visitor's, and the agent it chatted with last, for sticky routing (SPEC §7).
 */
import { keyRing } from "./keys.ts";
import { open, seal } from "./sealed-state.ts";

export interface VisitorState {
	visitorId: string;
	lastAgentId?: string;
}

/** Sealed blobs are bound to a chat id; a visitor's state is bound to this instead. */
const VISITOR_STATE_AAD = "visitor-state";

export const sealVisitorState = (
	env: Env,
	siteId: string,
	state: VisitorState
) => seal(keyRing(env), siteId, VISITOR_STATE_AAD, state);

/** The state, or undefined when the blob does not open (another site, other keys, tampered). */
export async function openVisitorState(
	env: Env,
	siteId: string,
	sealed: string
): Promise<VisitorState | undefined> {
	const value = (await open(
		keyRing(env),
		siteId,
		VISITOR_STATE_AAD,
		sealed
	)) as Partial<VisitorState> | undefined;
	if (typeof value?.visitorId !== "string") return undefined;
	return typeof value.lastAgentId === "string"
		? { visitorId: value.visitorId, lastAgentId: value.lastAgentId }
		: { visitorId: value.visitorId };
}
