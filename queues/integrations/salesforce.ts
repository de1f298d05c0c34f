/** Salesforce: a Case per ended chat or offline message, through the REST API with a bearer token (SPEC §8). */
import { once, postJson, REJECTED_REQUEST, timeoutOf } from "./once.ts";
import { cut, summarize } from "./summary.ts";
import type { Delivery } from "./types.ts";

export const SALESFORCE_API_VERSION = "v60.0";

export async function createCase(delivery: Delivery): Promise<void> {
	const { env, envelope, key, config } = delivery;
	const { baseUrl, accessToken } = config.integrations.salesforce;
	const summary = summarize("salesforce", envelope);
	await once(env.DB, key, async () => {
		await postJson(
			`${baseUrl!.replace(/\/+$/, "")}/services/data/${SALESFORCE_API_VERSION}/sobjects/Case`,
			{
				headers: { Authorization: `Bearer ${accessToken}` },
				body: JSON.stringify({
					Subject: summary.subject.slice(0, 255),
					// Case.Description holds 32,000 characters.
					Description: cut(summary.body, 32_000),
					Origin: envelope.event === "chat.end" ? "Chat" : "Web",
					Status: "New",
					SuppliedName: summary.requester.name ?? undefined,
					SuppliedEmail: summary.requester.email ?? undefined,
					SuppliedPhone: summary.requester.phone ?? undefined,
				}),
				timeoutMs: timeoutOf(env),
				permanent: REJECTED_REQUEST,
			}
		);
	});
}
