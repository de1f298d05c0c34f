import { claim, markDoneStatement, release } from "../deliveries.ts";

/** Another copy of this delivery is being worked on right now: try again after it has finished or given up. */
export class InFlightElsewhere extends Error {}

/** Runs an outside effect at most once per key (SPEC §8); a failure gives the key back and is rethrown for a retry. */
export async function once(db: D1Database, key: string, effect: (deliveryId: string) => Promise<void>): Promise<void> {
	const claimed = await claim(db, key);
	if (!claimed.owned) {
		if (claimed.done) return;
		throw new InFlightElsewhere(`${key} is being delivered by another consumer`);
	}
	try {
		await effect(claimed.deliveryId);
	} catch (error) {
		await release(db, key, error instanceof Error ? error.message : String(error));
		throw error;
	}
	await markDoneStatement(db, key, claimed.deliveryId).run();
}

/** An outside HTTP call that counts as done only on a 2xx within the timeout. */
export async function postJson(url: string, init: { headers: Record<string, string>; body: string; timeoutMs: number }): Promise<Response> {
	const response = await fetch(url, {
		method: "POST",
		headers: { "Content-Type": "application/json", ...init.headers },
		body: init.body,
		signal: AbortSignal.timeout(init.timeoutMs),
	});
	if (!response.ok) {
		const detail = (await response.text().catch(() => "")).slice(0, 200);
		throw new Error(`POST ${new URL(url).origin}${new URL(url).pathname} answered ${response.status}${detail ? `: ${detail}` : ""}`);
	}
	return response;
}

export const timeoutOf = (env: Env) => Number(env.DELIVERY_TIMEOUT_MS) || 10_000;
