/**
 * Daily clean-up (cron in wrangler.toml). Spilled payloads are needed only while their event is in
 * the queues (retries end within hours), or for as long as a dead letter carries them (letters are
 * kept, to be looked at and replayed whole); done-records guard against repeats, which come within
 * minutes (redelivery) or hours (a failover deployment's end), so a month is ample.
 * Chats, messages, tickets and dead letters are the site's records and are kept.
 */
const DAY_MS = 24 * 60 * 60 * 1000;
const SPILLED_PAYLOADS_KEPT_MS = 7 * DAY_MS;
const DONE_DELIVERIES_KEPT_MS = 30 * DAY_MS;

export async function cleanUp(
	env: Env,
	now = Date.now()
): Promise<{ spilledParts: number; deliveries: number }> {
	const [spilled, deliveries] = await env.DB.batch([
		env.DB.prepare(
			`DELETE FROM spilled_payloads WHERE created_at < ? AND spill_id NOT IN (SELECT spill_id FROM dead_letters WHERE spill_id IS NOT NULL)`
		).bind(now - SPILLED_PAYLOADS_KEPT_MS),
		env.DB.prepare(
			`DELETE FROM deliveries WHERE state = 'done' AND done_at < ?`
		).bind(now - DONE_DELIVERIES_KEPT_MS),
	]);
	return {
		spilledParts: spilled!.meta.changes,
		deliveries: deliveries!.meta.changes,
	};
}
