/**
 * HTTP to a list of deployments, primary first (SPEC §9, §10). A deployment that does not answer
 * (network error, timeout, 5xx) is left for the next one; the primary is tried again after a while.
 */
export interface TransportOptions {
	baseUrls: string[];
	fetch?: typeof fetch;
	/** Per-request timeout on top of any long-poll wait. */
	timeoutMs?: number;
	/** Rounds over all base URLs before giving up. */
	attempts?: number;
	backoffMs?: number;
	/** How long to stay on a secondary before trying the primary again. */
	failBackAfterMs?: number;
}

export class Unreachable extends Error {}

export class Transport {
	private current = 0;
	private leftPrimaryAt = 0;
	private readonly fetchFn: typeof fetch;
	private readonly timeoutMs: number;
	private readonly attempts: number;
	private readonly backoffMs: number;
	private readonly failBackAfterMs: number;
	/** Which base URL gave each answer: with requests in flight at once, `baseUrl` may already point elsewhere. */
	private readonly answerers = new WeakMap<Response, string>();

	constructor(private readonly options: TransportOptions) {
		if (options.baseUrls.length === 0)
			throw new Error("at least one base URL is needed");
		this.fetchFn = options.fetch ?? ((input, init) => fetch(input, init));
		this.timeoutMs = options.timeoutMs ?? 10_000;
		this.attempts = options.attempts ?? 3;
		this.backoffMs = options.backoffMs ?? 200;
		this.failBackAfterMs = options.failBackAfterMs ?? 30_000;
	}

	/** The base URL the next request goes to first. */
	get baseUrl(): string {
		return this.options.baseUrls[this.current]!;
	}

	async request(
		path: string,
		init: RequestInit = {},
		waitMs = 0
	): Promise<Response> {
		const urls = this.options.baseUrls;
		let lastError: unknown;
		for (let round = 0; round < this.attempts; round++) {
			if (
				this.current !== 0 &&
				Date.now() - this.leftPrimaryAt >= this.failBackAfterMs
			)
				this.current = 0;
			for (let tried = 0; tried < urls.length; tried++) {
				const index = this.current;
				// A 5xx gets one more try on the same deployment (a room restarting), no answer at all gets none.
				for (let attempt = 0; attempt < 2; attempt++) {
					let response: Response;
					try {
						response = await this.exchange(
							`${urls[index]}/v1${path}`,
							init,
							this.timeoutMs + waitMs
						);
					} catch (error) {
						lastError = error;
						break;
					}
					if (response.status < 500) {
						this.answerers.set(response, urls[index]!);
						return response;
					}
					lastError = new Error(`${urls[index]} answered ${response.status}`);
					if (attempt === 0) await sleep(this.backoffMs);
				}
				this.moveOn(index);
			}
			await sleep(this.backoffMs * 2 ** round * (0.5 + Math.random()));
		}
		throw new Unreachable(`no deployment answered: ${String(lastError)}`);
	}

	/**
	 * One request and its whole body under one deadline. The body is read here, not by the caller: a
	 * deployment that dies after its headers can leave the body stalled with the connection still open,
	 * and an abort does not always end that read, so the deadline is enforced on our side of the read.
	 */
	private async exchange(
		url: string,
		init: RequestInit,
		timeoutMs: number
	): Promise<Response> {
		const signal = AbortSignal.timeout(timeoutMs);
		const response = await untilAborted(
			this.fetchFn(url, { ...init, signal }),
			signal
		);
		const reader = response.body?.getReader();
		if (!reader) return response;
		const chunks: Uint8Array[] = [];
		try {
			for (;;) {
				const { done, value } = await untilAborted(reader.read(), signal);
				if (done) break;
				chunks.push(value);
			}
		} catch (error) {
			reader.cancel(error).catch(() => undefined); // not awaited: the stalled stream may never confirm
			throw error;
		}
		return new Response(
			NULL_BODY_STATUSES.has(response.status)
				? null
				: new Blob(chunks as Uint8Array<ArrayBuffer>[]),
			{
				status: response.status,
				statusText: response.statusText,
				headers: response.headers,
			}
		);
	}

	/** The base URL that gave this answer (one `request` returned). */
	answeredBy(response: Response): string {
		return this.answerers.get(response) ?? this.baseUrl;
	}

	/** Leaves `failed` for the next deployment, unless a concurrent request already moved on from it. */
	private moveOn(failed: number): void {
		if (this.current !== failed) return;
		if (failed === 0) this.leftPrimaryAt = Date.now();
		this.current = (failed + 1) % this.options.baseUrls.length;
	}
}

const NULL_BODY_STATUSES = new Set([101, 103, 204, 205, 304]);

/** The promise, or the signal's reason as soon as it aborts, whichever comes first. */
function untilAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
	if (signal.aborted) return Promise.reject(signal.reason);
	return new Promise<T>((resolve, reject) => {
		const onAbort = () => reject(signal.reason);
		signal.addEventListener("abort", onAbort, { once: true });
		promise
			.then(resolve, reject)
			.finally(() => signal.removeEventListener("abort", onAbort));
	});
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
