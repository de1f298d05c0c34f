/**
 * The integrations and the events each one acts on (SPEC §8). Adding an integration is one entry
 * here: its queue, the site-config switch that enables it, the events it takes, and what it does.
 */
import type { EventName, IntegrationName } from "../../src/protocol/events.ts";
import type { SiteConfig } from "../../src/protocol/site-config.ts";
import { sendEmails } from "./email.ts";
import { persist } from "./persistence.ts";
import { createCase } from "./salesforce.ts";
import { openTicket } from "./ticket.ts";
import type { Delivery } from "./types.ts";
import { callWebhook } from "./webhook.ts";
import { createTicket } from "./zendesk.ts";

export interface Integration {
	/** Second-level queue: one per integration, the dotted `<event>.<integration>` name stays in the envelope. */
	queueName: string;
	queue(env: Env): Queue;
	enabled(config: SiteConfig): boolean;
	/** The events it acts on; `"all"` for every first-level event. */
	events: readonly EventName[] | "all";
	deliver(delivery: Delivery): Promise<void>;
}

const CUSTOMER_FACING = ["chat.end", "offlineMessage.submit"] as const;

export const INTEGRATION_TABLE: Record<IntegrationName, Integration> = {
	persistence: {
		queueName: "deliver-persistence",
		queue: (env) => env.Q_PERSISTENCE,
		enabled: (c) => c.integrations.persistence.enabled,
		events: "all",
		deliver: persist,
	},
	email: {
		queueName: "deliver-email",
		queue: (env) => env.Q_EMAIL,
		enabled: (c) => c.integrations.email.enabled,
		events: CUSTOMER_FACING,
		deliver: sendEmails,
	},
	ticket: {
		queueName: "deliver-ticket",
		queue: (env) => env.Q_TICKET,
		enabled: (c) => c.integrations.ticket.enabled,
		events: CUSTOMER_FACING,
		deliver: openTicket,
	},
	webhook: {
		queueName: "deliver-webhook",
		queue: (env) => env.Q_WEBHOOK,
		enabled: (c) => c.integrations.webhook.enabled,
		events: [...CUSTOMER_FACING, "agent.wrapup"],
		deliver: callWebhook,
	},
	salesforce: {
		queueName: "deliver-salesforce",
		queue: (env) => env.Q_SALESFORCE,
		enabled: (c) => c.integrations.salesforce.enabled,
		events: CUSTOMER_FACING,
		deliver: createCase,
	},
	zendesk: {
		queueName: "deliver-zendesk",
		queue: (env) => env.Q_ZENDESK,
		enabled: (c) => c.integrations.zendesk.enabled,
		events: CUSTOMER_FACING,
		deliver: createTicket,
	},
};

export const takes = (integration: Integration, event: EventName) =>
	integration.events === "all" || integration.events.includes(event);

/** The second-level names an event fans out to on a site: only the enabled integrations that take it. */
export function targetsOf(event: EventName, config: SiteConfig): IntegrationName[] {
	return (Object.keys(INTEGRATION_TABLE) as IntegrationName[]).filter((name) => {
		const integration = INTEGRATION_TABLE[name];
		return takes(integration, event) && integration.enabled(config);
	});
}
