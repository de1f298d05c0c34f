/**
 * A sliding-window rate (pure): this window's count plus the previous window's, weighted by how much
 * of it still overlaps the last `windowMs`. O(1) state whatever the limit, and no burst at a window's edge.
 */
export interface RateWindow {
	/** Start of the current fixed window (epoch ms). */
	start: number;
	current: number;
	previous: number;
}

export type Hit =
	{ ok: true; state: RateWindow } | { ok: false; retryAfterMs: number };

export function hit(
	state: RateWindow | undefined,
	limit: number,
	windowMs: number,
	now: number
): Hit {
	let { start, current, previous } = state ?? {
		start: now,
		current: 0,
		previous: 0,
	};
	const windows = Math.floor((now - start) / windowMs);
	if (windows >= 1) {
		previous = windows === 1 ? current : 0;
		current = 0;
		start += windows * windowMs;
	}
	const overlap = 1 - (now - start) / windowMs;
	if (previous * overlap + current + 1 > limit) {
		// The previous window's weight falls linearly: wait until it has fallen enough, or for the next window.
		const excess = previous * overlap + current + 1 - limit;
		const wait =
			previous > 0 && excess <= previous * overlap
				? (excess / previous) * windowMs
				: start + windowMs - now;
		return { ok: false, retryAfterMs: Math.max(1, Math.ceil(wait)) };
	}
	return { ok: true, state: { start, current: current + 1, previous } };
}
