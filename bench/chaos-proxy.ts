/**
 * A loopback TCP proxy in front of one deployment: the chaos run's "switch". Clients know only the
 * proxies' URLs; blacking one out resets every connection through it (open WebSockets included)
 * and every new one, so the clients' transport must fail over to the other URL, and fail back
 * once it answers again. Plain TCP, so HTTP keep-alive and WebSocket upgrades pass untouched.
 */
import net from "node:net";

export class SwitchableProxy {
	private readonly open = new Set<{
		client: net.Socket;
		upstream: net.Socket;
	}>();
	private dark = false;

	private constructor(
		private readonly server: net.Server,
		readonly port: number,
		private readonly targetPort: number
	) {
		server.on("connection", (client) => this.accept(client));
	}

	static async listen(targetPort: number): Promise<SwitchableProxy> {
		const server = net.createServer();
		await new Promise<void>((resolve, reject) => {
			server.once("error", reject);
			server.listen(0, "127.0.0.1", () => resolve());
		});
		return new SwitchableProxy(
			server,
			(server.address() as net.AddressInfo).port,
			targetPort
		);
	}

	get url(): string {
		return `http://127.0.0.1:${this.port}`;
	}

	get isDark(): boolean {
		return this.dark;
	}

	/** Dark: every connection is reset, now and until it is lit again. */
	setDark(dark: boolean): void {
		this.dark = dark;
		if (dark) for (const pair of [...this.open]) this.cut(pair);
	}

	async close(): Promise<void> {
		this.setDark(true);
		await new Promise<void>((resolve) => this.server.close(() => resolve()));
	}

	private accept(client: net.Socket): void {
		client.setNoDelay(true);
		if (this.dark) return void client.resetAndDestroy();
		const upstream = net.connect({
			port: this.targetPort,
			host: "127.0.0.1",
			noDelay: true,
		});
		const pair = { client, upstream };
		this.open.add(pair);
		// A deployment that is down refuses the connection: the client sees a reset, as from a dead host.
		upstream.on("error", () => this.cut(pair));
		client.on("error", () => this.cut(pair));
		// A clean close upstream ends the client's side through the pipe, after what is still in flight.
		upstream.on("close", (hadError) => hadError && this.cut(pair));
		client.on("close", () => this.cut(pair));
		client.pipe(upstream);
		upstream.pipe(client);
	}

	private cut(pair: { client: net.Socket; upstream: net.Socket }): void {
		if (!this.open.delete(pair)) return;
		if (!pair.client.destroyed) pair.client.resetAndDestroy();
		if (!pair.upstream.destroyed) pair.upstream.destroy();
	}
}
