import type { CheckedEnvelope } from "../../src/protocol/events.ts";
import type { SiteConfig } from "../../src/protocol/site-config.ts";

/** One second-level message, ready to act on. */
export interface Delivery {
	env: Env;
	/** Its payload checked by its first-level event's schema: narrowing `envelope.event` narrows `envelope.payload`. */
	envelope: CheckedEnvelope;
	/** `<event>.<integration>:<uniqueId>`: what the effect is recorded under (SPEC §8). */
	key: string;
	config: SiteConfig;
}

/** A failure that no retry can mend (a malformed message, an integration switched off): dead-lettered at once. */
export class PermanentFailure extends Error {}

/** An event this integration has nothing to do for: a mistake in the fan-out table, not in the message. */
export const unsupported = (integration: string, event: string) =>
	new PermanentFailure(`${integration} has nothing to do for ${event}`);
