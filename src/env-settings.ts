/**
 * The plain vars (wrangler.toml, `--var`), parsed with one schema once per env object rather than at
 * each use. A value that does not parse falls back to its default, as a missing one does.
 */
import { z } from "zod";

const EnvSettingsSchema = z.object({
	/** Queue consumers retry after RETRY_BASE_SECONDS × 2^(attempt−1), capped (SPEC §8); 0 in tests. */
	RETRY_BASE_SECONDS: z.coerce.number().nonnegative().catch(2),
	/** A webhook, CRM or email call that takes longer than this is a failure, retried. */
	DELIVERY_TIMEOUT_MS: z.coerce.number().positive().catch(10_000),
	/** "memory": rooms and dispatchers keep nothing in storage (the seed's database-free mode). */
	CHAT_STATE: z.enum(["durable", "memory"]).catch("durable"),
	/** The chaos run's fault injection (src/routes/debug.ts): only a local `--var DEBUG_ROUTES:true`. */
	DEBUG_ROUTES: z
		.unknown()
		.optional()
		.transform((value) => value === "true"),
});
export type EnvSettings = z.infer<typeof EnvSettingsSchema>;

type SettingsEnv = Partial<Record<keyof EnvSettings, string>>;

const parsed = new WeakMap<SettingsEnv, EnvSettings>();

export function envSettings(env: SettingsEnv): EnvSettings {
	let settings = parsed.get(env);
	if (!settings) {
		settings = EnvSettingsSchema.parse(env);
		parsed.set(env, settings);
	}
	return settings;
}
