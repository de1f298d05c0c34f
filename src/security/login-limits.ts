/**
 * Agent login limits (SPEC §6): per email of a site and per client address, each a failure counter
 * (AbuseCounter) that makes every attempt past a few failures wait, twice as long each time.
 * An attempt is counted before its password is checked, so parallel guesses cannot all get through,
 * and one refused costs no PBKDF2.
 */
import { rateLimited } from "../errors.ts";
import type { AbusePolicy } from "../../durable-objects/abuse-counter.ts";

const HOUR = 3_600_000;
/** One agent's password: a few typos, then 1 s, 2 s, 4 s … up to 15 min between guesses. */
const PER_EMAIL: AbusePolicy = {
	threshold: 5,
	windowMs: HOUR,
	baseDelayMs: 1000,
	maxDelayMs: 15 * 60_000,
};
/** An office or a carrier's NAT holds many agents, and a success takes its attempt back: only failures add up. */
const PER_ADDRESS: AbusePolicy = {
	threshold: 20,
	windowMs: HOUR,
	baseDelayMs: 1000,
	maxDelayMs: 15 * 60_000,
};

export interface LoginAttempt {
	/** The password was right: forget the email's failures, take back the address's count. */
	succeeded(): Promise<void>;
}

/** Counts one attempt on both limits, or throws 429 rate_limited (with how long to wait) and counts nothing. */
export async function beginLogin(
	env: Pick<Env, "ABUSE_COUNTER">,
	siteId: string,
	email: string,
	addressKey: string
): Promise<LoginAttempt> {
	const counter = (name: string) =>
		env.ABUSE_COUNTER.get(env.ABUSE_COUNTER.idFromName(name));
	const limits = [
		{
			counter: counter(`login-email:${siteId}:${email.toLowerCase()}`),
			policy: PER_EMAIL,
		},
		{ counter: counter(`login-address:${addressKey}`), policy: PER_ADDRESS },
	];
	const taken = await Promise.all(limits.map((l) => l.counter.take(l.policy)));
	const waits = taken.flatMap((t) => (t.ok ? [] : [t.retryAfterMs]));
	if (waits.length > 0) {
		// Refused by one limit: the attempt was never made, so the other does not count it either.
		await Promise.all(
			limits
				.filter((_, i) => taken[i]!.ok)
				.map((l) => l.counter.refund(l.policy))
		);
		throw rateLimited(
			"too many failed logins, try again later",
			Math.max(...waits) / 1000
		);
	}
	const [perEmail, perAddress] = limits as [
		(typeof limits)[number],
		(typeof limits)[number],
	];
	return {
		succeeded: async () => {
			await Promise.all([
				perEmail.counter.reset(),
				perAddress.counter.refund(perAddress.policy),
			]);
		},
	};
}
