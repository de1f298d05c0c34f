/** Closed-loop HTTP load: `concurrency` loops, each sending one request at a time until time is up. */
export interface LoadResult {
	requests: number;
	seconds: number;
	latenciesMs: number[];
	errors: number;
}

export async function closedLoop(
	concurrency: number,
	seconds: number,
	makeLoop: (index: number) => Promise<() => Promise<boolean>>
): Promise<LoadResult> {
	const loops = await Promise.all(
		Array.from({ length: concurrency }, (_, i) => makeLoop(i))
	);
	const latenciesMs: number[] = [];
	let errors = 0;
	const started = performance.now();
	const deadline = started + seconds * 1000;
	await Promise.all(
		loops.map(async (once) => {
			while (performance.now() < deadline) {
				const t = performance.now();
				const ok = await once().catch(() => false);
				if (ok) latenciesMs.push(performance.now() - t);
				else errors++;
			}
		})
	);
	return {
		requests: latenciesMs.length,
		seconds: (performance.now() - started) / 1000,
		latenciesMs,
		errors,
	};
}

export function percentile(sorted: number[], p: number): number {
	if (sorted.length === 0) return NaN;
	return sorted[
		Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))
	]!;
}

export function summarize(results: LoadResult[]) {
	const latencies = results.flatMap((r) => r.latenciesMs).sort((a, b) => a - b);
	const requests = results.reduce((n, r) => n + r.requests, 0);
	const seconds = results.reduce((n, r) => n + r.seconds, 0);
	return {
		throughput: requests / seconds,
		p50: percentile(latencies, 50),
		p99: percentile(latencies, 99),
		requests,
		errors: results.reduce((n, r) => n + r.errors, 0),
	};
}
