import { z } from "zod";
import { MAX_CONTENT_LENGTH } from "./chat.ts";

const toggle = <T extends z.ZodRawShape>(shape: T) =>
	z.strictObject({ enabled: z.boolean().default(false), ...shape });

export const SiteConfigSchema = z
	.strictObject({
		name: z.string().min(1).max(200),
		routing: z
			.strictObject({
				mode: z.enum(["auto", "manual"]).default("auto"),
				sticky: z.boolean().default(true),
			})
			.prefault({}),
		limits: z
			.strictObject({
				maxMessageLength: z.number().int().min(1).max(MAX_CONTENT_LENGTH).default(MAX_CONTENT_LENGTH),
				maxTrackedVisitors: z.number().int().min(0).max(100_000).default(1000),
				messagesPerMinutePerVisitor: z.number().int().min(1).max(10_000).default(60),
			})
			.prefault({}),
		integrations: z
			.strictObject({
				persistence: z.strictObject({ enabled: z.boolean().default(true) }).prefault({}),
				email: toggle({ to: z.array(z.email()).default([]), from: z.email().optional() }).prefault({}),
				ticket: toggle({}).prefault({}),
				webhook: toggle({ url: z.url().optional(), secret: z.string().min(16).optional() }).prefault({}),
				salesforce: toggle({ baseUrl: z.url().optional(), accessToken: z.string().optional() }).prefault({}),
				zendesk: toggle({
					baseUrl: z.url().optional(),
					email: z.email().optional(),
					apiToken: z.string().optional(),
				}).prefault({}),
			})
			.prefault({}),
	})
	.superRefine((config, ctx) => {
		const { email, webhook, salesforce, zendesk } = config.integrations;
		const need = (enabled: boolean, path: string[], present: boolean) => {
			if (enabled && !present) {
				ctx.addIssue({ code: "custom", path: ["integrations", ...path], message: "required when the integration is enabled" });
			}
		};
		need(email.enabled, ["email", "to"], email.to.length > 0);
		need(webhook.enabled, ["webhook", "url"], !!webhook.url);
		need(webhook.enabled, ["webhook", "secret"], !!webhook.secret);
		need(salesforce.enabled, ["salesforce", "baseUrl"], !!salesforce.baseUrl);
		need(salesforce.enabled, ["salesforce", "accessToken"], !!salesforce.accessToken);
		need(zendesk.enabled, ["zendesk", "baseUrl"], !!zendesk.baseUrl);
		need(zendesk.enabled, ["zendesk", "email"], !!zendesk.email);
		need(zendesk.enabled, ["zendesk", "apiToken"], !!zendesk.apiToken);
	});

export type SiteConfigInput = z.input<typeof SiteConfigSchema>;
export type SiteConfig = z.infer<typeof SiteConfigSchema>;
