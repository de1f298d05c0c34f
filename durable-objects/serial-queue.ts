/** Runs async work one piece at a time, in call order; a failure does not stop what comes after. */
export class SerialQueue {
	private tail: Promise<unknown> = Promise.resolve();

	run<T>(work: () => Promise<T>): Promise<T> {
		const result = this.tail.then(work, work);
		this.tail = result.catch(() => undefined);
		return result;
	}
}
