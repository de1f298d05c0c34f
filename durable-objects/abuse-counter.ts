/**
 * One failure counter per name (an email of a site, a client address, …), for limits that grow
 * with failures (SPEC §6, abuse limits). The single writer of its count, so attempts that come in
 * parallel are counted one after the other: `take` counts an attempt as a failure before the work
 * it guards, and `refund` / `reset` take it back when the attempt turned out well.
 */
import { DurableObject } from "cloudflare:workers";
import { Clock } from "./clock.ts";
import { hit as hitWindow } from "./rate-window.ts";
import type { RateWindow } from "./rate-window.ts";

export interface AbusePolicy {
	/** Failures allowed in a row before each further attempt must wait. */
	threshold: number;
	/** Failures are forgotten this long after the last one (and once any wait is over). */
	windowMs: number;
	/** The wait after the threshold-th failure; it doubles with every failure after that… */
	baseDelayMs: number;
	/** …up to this. */
	maxDelayMs: number;
}

export type Taken = { ok: true } | { ok: false; retryAfterMs: number };

interface Count {
	failures: number;
	lastFailureAt: number;
	blockedUntil: number;
}

const KEY = "count";

export class AbuseCounter extends DurableObject<Env> {
	/** What failures, waits and windows are measured with; tests stop it and move it on (durable-objects/clock.ts). */
	readonly clock = new Clock();
	private window: RateWindow | undefined;

	/** Counts one attempt, unless the name must wait: then nothing is counted and the wait is told. */
	async take(policy: AbusePolicy): Promise<Taken> {
		const now = this.clock.now();
		const count = this.current(policy, now);
		if (count.blockedUntil > now)
			return { ok: false, retryAfterMs: count.blockedUntil - now };
		count.failures += 1;
		count.lastFailureAt = now;
		if (count.failures >= policy.threshold) {
			const delay =
				policy.baseDelayMs * 2 ** (count.failures - policy.threshold);
			count.blockedUntil = now + Math.min(delay, policy.maxDelayMs);
		}
		await this.save(count, policy);
		return { ok: true };
	}

	/** Takes back one counted attempt (it succeeded, or another limit refused it), and its wait if it set one. */
	async refund(policy: AbusePolicy): Promise<void> {
		const count = this.current(policy, this.clock.now());
		if (count.failures === 0) return;
		count.failures -= 1;
		if (count.failures < policy.threshold) count.blockedUntil = 0;
		await this.save(count, policy);
	}

	/**
	 * A plain rate (chat starts, socket upgrades per client address): at most `limit` in any `windowMs`,
	 * failure or not. Kept in memory: a counter that is being hammered stays awake, and one that sleeps has nothing to count.
	 */
	async hit(limit: number, windowMs: number): Promise<Taken> {
		const result = hitWindow(this.window, limit, windowMs, this.clock.now());
		if (!result.ok) return { ok: false, retryAfterMs: result.retryAfterMs };
		this.window = result.state;
		return { ok: true };
	}

	/** Forgets every failure (a login that succeeded, for its email). */
	async reset(): Promise<void> {
		await this.ctx.storage.deleteAlarm();
		this.ctx.storage.kv.delete(KEY);
	}

	/** Nothing is kept once it no longer matters: names are made up by anyone who tries. */
	async alarm(): Promise<void> {
		this.ctx.storage.kv.delete(KEY);
	}

	private current(policy: AbusePolicy, now: number): Count {
		const count = this.ctx.storage.kv.get<Count>(KEY);
		if (
			!count ||
			(count.blockedUntil <= now && now - count.lastFailureAt > policy.windowMs)
		) {
			return { failures: 0, lastFailureAt: 0, blockedUntil: 0 };
		}
		return count;
	}

	/** The count is written before anything is awaited, so no other call sees it half-done. */
	private async save(count: Count, policy: AbusePolicy): Promise<void> {
		this.ctx.storage.kv.put(KEY, count);
		await this.ctx.storage.setAlarm(
			Math.max(count.blockedUntil, count.lastFailureAt + policy.windowMs) + 1000
		);
	}
}
