import { envSettings } from "../src/env-settings.ts";

/** How long a failed delivery waits before its next attempt (SPEC §8: retries with backoff). */
export const MAX_BACKOFF_SECONDS = 15 * 60;

/** RETRY_BASE_SECONDS × 2^(attempts−1), capped: 2, 4, 8, … seconds with the default base. */
export function backoffSeconds(attempts: number, baseSeconds: number): number {
	return Math.min(
		MAX_BACKOFF_SECONDS,
		Math.round(baseSeconds * 2 ** Math.max(0, attempts - 1))
	);
}

/** The wait after a message's `attempts` failed attempts, from this deployment's RETRY_BASE_SECONDS. */
export const retryDelaySeconds = (env: Env, attempts: number) =>
	backoffSeconds(attempts, envSettings(env).RETRY_BASE_SECONDS);
