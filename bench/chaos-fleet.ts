/**
 * The chaos run's two deployments, A and B, each behind a switchable proxy whose URL the clients
 * know (primary, secondary): which is up, and which proxy is dark.
 */
import { join } from "node:path";
import { startLocalDeployment } from "../scripts/local-deployment.ts";
import { SwitchableProxy } from "./chaos-proxy.ts";
import { SITE } from "./chaos-recorder.ts";
import type { LocalDeployment } from "../scripts/local-deployment.ts";
import type { ChaosAgent } from "./chaos-consoles.ts";
import type { ChaosOptions, Recorder } from "./chaos-recorder.ts";

/** One deployment as the faults see it: up, crashed, restarting. */
export class Deployment {
	up = false;
	private current: LocalDeployment | undefined;

	constructor(
		readonly name: "A" | "B",
		readonly port: number,
		private readonly stateDir: string,
		private readonly chatState: "durable" | "memory",
		/** Everything the deployment prints, over all its restarts. */
		readonly logFile: string
	) {}

	get url(): string {
		return `http://127.0.0.1:${this.port}`;
	}

	async start(): Promise<void> {
		let lastError: unknown;
		for (let attempt = 0; attempt < 3; attempt++) {
			try {
				this.current = await startLocalDeployment({
					port: this.port,
					stateDir: this.stateDir,
					chatState: this.chatState,
					debugRoutes: true,
					logFile: this.logFile,
				});
				this.up = true;
				return;
			} catch (error) {
				lastError = error;
			}
		}
		throw lastError;
	}

	async crash(): Promise<void> {
		this.up = false;
		await this.current?.crash();
	}

	async stop(): Promise<void> {
		this.up = false;
		await this.current?.stop();
	}
}

export class Fleet {
	readonly deployments: [Deployment, Deployment];
	private proxyPair: [SwitchableProxy, SwitchableProxy] | undefined;
	/** Which proxy is dark, if any. */
	darkProxy: 0 | 1 | undefined;

	constructor(
		options: ChaosOptions,
		private readonly recorder: Recorder
	) {
		const deployment = (name: "A" | "B", index: 0 | 1) =>
			new Deployment(
				name,
				options.ports[index],
				join(options.workDir, name.toLowerCase()),
				options.chatState,
				recorder.outputFile(`log-${name}`, "log")
			);
		this.deployments = [deployment("A", 0), deployment("B", 1)];
	}

	get proxies(): [SwitchableProxy, SwitchableProxy] {
		return this.proxyPair!;
	}

	async listen(): Promise<void> {
		this.proxyPair = [
			await SwitchableProxy.listen(this.deployments[0].port),
			await SwitchableProxy.listen(this.deployments[1].port),
		];
	}

	setDark(dark: 0 | 1 | undefined, why: string): void {
		this.darkProxy = dark;
		this.proxies.forEach((proxy, i) => proxy.setDark(i === dark));
		this.recorder.event(why);
	}

	/** The deployment behind a proxy's port, by name. */
	behind(port: string): string {
		const index =
			this.proxyPair?.findIndex((p) => String(p.port) === port) ?? -1;
		return index >= 0 ? this.deployments[index]!.name : `:${port}`;
	}

	async close(): Promise<void> {
		await Promise.all([
			...(this.proxyPair ?? []).map((p) => p.close()),
			...this.deployments.map((d) => d.stop().catch(() => undefined)),
		]);
	}
}

/** The run's own site in auto routing (SPEC §7), with limits raised well above what the scripted chats do, and its agents. */
export async function prepareSite(
	d: Deployment,
	adminToken: string,
	agents: ChaosAgent[]
): Promise<void> {
	const limits: Record<string, number> = {
		messagesPerMinutePerVisitor: 10_000,
	};
	// Limits the schema may or may not know yet (SPEC §6): each kept only if it is accepted.
	const optional: [string, number[]][] = [
		["chatStartsPerMinutePerAddress", [100_000, 10_000, 1000]],
		["socketUpgradesPerMinutePerAddress", [100_000, 10_000]],
		["socketsPerChat", [32]],
		["framesPerSecondPerSocket", [1000, 100]],
		// Every visitor of the run comes from one address.
		["openChatsPerAddress", [100_000, 1000]],
	];
	const routing = { mode: "auto" };
	const put = (body: unknown) =>
		admin(adminToken, d, "PUT", `/sites/${SITE}`, body);
	for (const [key, values] of optional) {
		for (const value of values) {
			if (
				(
					await put({
						name: "Chaos run",
						routing,
						limits: { ...limits, [key]: value },
					})
				).ok
			) {
				limits[key] = value;
				break;
			}
		}
	}
	const site = await put({ name: "Chaos run", routing, limits });
	if (!site.ok)
		throw new Error(
			`PUT site on ${d.name}: ${site.status} ${await site.text()}`
		);
	for (const agent of agents) {
		const created = await admin(
			adminToken,
			d,
			"POST",
			`/sites/${SITE}/agents`,
			agent
		);
		if (!created.ok && created.status !== 409)
			throw new Error(
				`POST agent ${agent.id} on ${d.name}: ${created.status} ${await created.text()}`
			);
	}
}

function admin(
	adminToken: string,
	d: Deployment,
	method: string,
	path: string,
	body: unknown
): Promise<Response> {
	return fetch(`${d.url}/v1/admin${path}`, {
		method,
		headers: {
			Authorization: `Bearer ${adminToken}`,
			"Content-Type": "application/json",
		},
		body: JSON.stringify(body),
		signal: AbortSignal.timeout(10_000),
	});
}
