/**
 * What connect() and disconnect() keep in both clients: each connect() starts a new connection, and
 * a loop or socket of an earlier one finds it is no longer live and stops.
 */
export class Connections {
	private on = false;
	private current = 0;

	get connected(): boolean {
		return this.on;
	}

	/** The new connection's number; undefined while one is already on. */
	start(): number | undefined {
		if (this.on) return undefined;
		this.on = true;
		return ++this.current;
	}

	stop(): void {
		this.on = false;
		this.current++;
	}

	live(connection: number): boolean {
		return this.on && connection === this.current;
	}
}
