/**
 * How the tests wait: for the thing they need (a frame, a state, a row), never for a fixed time. WAIT_MS
 * only bounds a wait for something that never comes, so that the failure names what was missing: it is
 * far above anything a loaded machine takes, and below the test timeout (vitest.config.ts) so that the
 * message is the one seen.
 */
export const WAIT_MS = 20_000;

/** Polls `check` until it holds; throws naming `what` (read when it fails) when it never does. */
export async function until(
	check: () => boolean | Promise<boolean>,
	what: string | (() => string),
	ms = WAIT_MS
): Promise<void> {
	const deadline = Date.now() + ms;
	while (!(await check())) {
		if (Date.now() > deadline)
			throw new Error(
				`timed out waiting for ${typeof what === "string" ? what : what()}`
			);
		await new Promise((resolve) => setTimeout(resolve, 20));
	}
}
