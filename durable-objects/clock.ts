/**
 * The time an object reads for its own deadlines and windows (a socket's hello deadline, a token's
 * expiry, frames per second, how long a typing frame is coalesced): the wall clock, unless a test
 * stopped it. A test stops the clock, moves it on and runs the alarm by hand, so what it sees does
 * not depend on how fast the machine is; the runtime's own schedule (when the alarm fires) keeps
 * the wall clock.
 */
export class Clock {
	private stoppedAt: number | undefined;

	now(): number {
		return this.stoppedAt ?? Date.now();
	}

	/** Time stands still at `at` for this object, and moves on only when set again. */
	stop(at = Date.now()): void {
		this.stoppedAt = at;
	}
}
