import { describe, expect, it } from "vitest";
import { hit } from "../durable-objects/rate-window.ts";
import type { RateWindow } from "../durable-objects/rate-window.ts";

function run(times: number[], limit: number, windowMs = 60_000) {
	let state: RateWindow | undefined;
	return times.map((t) => {
		const result = hit(state, limit, windowMs, t);
		if (result.ok) state = result.state;
		return result;
	});
}

describe("sliding-window rate", () => {
	it("allows the limit within a window, then refuses with the time to wait", () => {
		const results = run([0, 1, 2, 3], 3);
		expect(results.map((r) => r.ok)).toEqual([true, true, true, false]);
		const refused = results[3]!;
		expect(!refused.ok && refused.retryAfterMs).toBeGreaterThan(0);
		expect(!refused.ok && refused.retryAfterMs).toBeLessThanOrEqual(60_000);
	});

	it("does not let a burst at the edge of a window double the rate", () => {
		const burst = Array.from({ length: 10 }, (_, i) => 59_000 + i);
		const next = Array.from({ length: 10 }, (_, i) => 60_100 + i);
		const results = run([...burst, ...next], 10);
		expect(results.slice(0, 10).every((r) => r.ok)).toBe(true);
		expect(results.slice(10).filter((r) => r.ok).length).toBeLessThanOrEqual(1);
	});

	it("forgets what is older than two windows, and a steady rate under the limit always passes", () => {
		expect(run([0, 1, 2, 200_000], 3).map((r) => r.ok)).toEqual([
			true,
			true,
			true,
			true,
		]);
		const steady = Array.from({ length: 200 }, (_, i) => i * 2_000); // 30 a minute, limit 40
		expect(run(steady, 40).every((r) => r.ok)).toBe(true);
	});
});
