import { sendEmails } from "./email.ts";
import { persist } from "./persistence.ts";
import { createCase } from "./salesforce.ts";
import { openTicket } from "./ticket.ts";
import { callWebhook } from "./webhook.ts";
import { createTicket } from "./zendesk.ts";
import type { EventName } from "../../src/protocol/events.ts";
import type { SiteConfig } from "../../src/protocol/site-config.ts";
import type { Delivery } from "./types.ts";

/**
 * The integrations and the events each one acts on (SPEC §8). Adding an integration is one entry
 * here (its queue binding, the events it takes, what it does), beside its switch in the site config
 * and its queue in wrangler.toml.
 */

/** An integration is a switch in the site config (SPEC §8): `integrations.<name>.enabled`. */
export type IntegrationName = keyof SiteConfig["integrations"];

export interface Integration {
	/** Second-level queue: one per integration, the dotted `<event>.<integration>` name stays in the envelope. */
	queue(env: Env): Queue;
	/** The events it acts on; `"all"` for every first-level event. */
	events: readonly EventName[] | "all";
	deliver(delivery: Delivery): Promise<void>;
}

const CUSTOMER_FACING = ["chat.end", "offlineMessage.submit"] as const;

/** Acts on ended chats and offline messages, the events with a customer to answer. */
const customerFacing = (
	queue: Integration["queue"],
	deliver: Integration["deliver"]
): Integration => ({ queue, events: CUSTOMER_FACING, deliver });

/** Each integration is switched on by `integrations.<name>.enabled` in the site config; its queue is `deliver-<name>`. */
export const INTEGRATION_TABLE: Record<IntegrationName, Integration> = {
	persistence: {
		queue: (env) => env.Q_PERSISTENCE,
		events: "all",
		deliver: persist,
	},
	email: customerFacing((env) => env.Q_EMAIL, sendEmails),
	ticket: customerFacing((env) => env.Q_TICKET, openTicket),
	webhook: {
		queue: (env) => env.Q_WEBHOOK,
		events: [...CUSTOMER_FACING, "agent.wrapup"],
		deliver: callWebhook,
	},
	salesforce: customerFacing((env) => env.Q_SALESFORCE, createCase),
	zendesk: customerFacing((env) => env.Q_ZENDESK, createTicket),
};

/** Every integration, in the table's order, which is the order an event fans out in. */
export const INTEGRATIONS = Object.keys(INTEGRATION_TABLE) as IntegrationName[];

export const queueNameOf = (name: IntegrationName) => `deliver-${name}`;

export const enabled = (name: IntegrationName, config: SiteConfig) =>
	config.integrations[name].enabled;

export const takes = (name: IntegrationName, event: EventName) => {
	const { events } = INTEGRATION_TABLE[name];
	return events === "all" || events.includes(event);
};

/** The second-level names an event fans out to on a site: only the enabled integrations that take it. */
export function targetsOf(
	event: EventName,
	config: SiteConfig
): IntegrationName[] {
	return INTEGRATIONS.filter(
		(name) => takes(name, event) && enabled(name, config)
	);
}
