/**
 * The chaos run's faults, until a given time: evictions of random chats' rooms and of the site's
 * dispatcher, kill -9 of a whole deployment (restarted at once), and switches that black out the
 * primary or secondary URL.
 */
import { SITE } from "./chaos-recorder.ts";
import { between, pick, sleep } from "./chaos-util.ts";
import type { Fleet } from "./chaos-fleet.ts";
import type { Recorder } from "./chaos-recorder.ts";

export class Faults {
	constructor(
		private readonly recorder: Recorder,
		private readonly fleet: Fleet,
		private readonly adminToken: string
	) {}

	async run(until: number): Promise<void> {
		await Promise.all([
			this.evictions(until),
			this.dispatcherEvictions(until),
			this.crashes(until),
			this.switches(until),
		]);
	}

	/**
	 * Every 5 to 15 s, the site's dispatcher on a deployment that is up is reset (SPEC §7): in memory mode
	 * it forgets presence, loads and the queue, and has them back from the consoles' hellos and the
	 * waiting rooms; in durable mode it reloads them. Either way every console socket on it closes.
	 */
	private async dispatcherEvictions(until: number): Promise<void> {
		for (;;) {
			await sleep(Math.min(between(5000, 15_000), until - Date.now()));
			if (Date.now() >= until) return;
			const d = pick(this.fleet.deployments.filter((x) => x.up));
			if (!d) continue;
			let response: Response;
			try {
				response = await fetch(
					`${d.url}/v1/debug/sites/${SITE}/dispatcher/evict`,
					{
						method: "POST",
						headers: { Authorization: `Bearer ${this.adminToken}` },
						signal: AbortSignal.timeout(5000),
					}
				);
			} catch {
				continue; // the deployment went down meanwhile
			}
			if (response.status === 404 || response.status === 401)
				throw new Error(
					`the dispatcher's debug route answered ${response.status}: is DEBUG_ROUTES passed?`
				);
			if (response.status !== 204) continue;
			this.recorder.tally.dispatcherEvictions++;
			this.recorder.event(`dispatcher evicted on ${d.name}`);
		}
	}

	/** A few evictions a second, each of a random chat's room on the deployment its visitor is talking to. */
	private async evictions(until: number): Promise<void> {
		// Not one after another: under load an eviction call takes a while, and the rate must not depend on it.
		const inFlight = new Set<Promise<void>>();
		let failure: unknown;
		while (Date.now() < until && failure === undefined) {
			await sleep(between(150, 500));
			if (inFlight.size >= 8) continue;
			const eviction = this.evictOne()
				.catch((error) => void (failure ??= error))
				.finally(() => inFlight.delete(eviction));
			inFlight.add(eviction);
		}
		await Promise.all(inFlight);
		if (failure !== undefined) throw failure;
	}

	/** Aborts the room of a random chat on the deployment one of its clients is talking to. */
	private async evictOne(): Promise<void> {
		const chat = pick(this.recorder.chats);
		const baseUrl = pick(
			[chat.clients.visitor, chat.clients.agent].filter((c) => c !== undefined)
		).baseUrl;
		const index = this.fleet.proxies.findIndex((p) => p.url === baseUrl);
		if (index < 0)
			throw new Error(
				`chat ${chat.id}: a client talks to ${baseUrl}, none of the proxies`
			);
		const d = this.fleet.deployments[index]!;
		if (!d.up) return;
		let response: Response;
		try {
			response = await fetch(
				`${d.url}/v1/debug/sites/${SITE}/chats/${chat.id}/evict`,
				{
					method: "POST",
					headers: { Authorization: `Bearer ${this.adminToken}` },
					signal: AbortSignal.timeout(5000),
				}
			);
		} catch {
			return; // the deployment went down meanwhile
		}
		if (response.status === 404 || response.status === 401)
			throw new Error(
				`the debug route answered ${response.status}: is DEBUG_ROUTES passed?`
			);
		if (response.status !== 204) return;
		this.recorder.tally.evictions++;
		this.recorder.note(chat, undefined, `evicted on ${d.name}`);
	}

	/** kill -9 of one deployment (alternating, first one at random) every 20 to 40 s, restarted at once. */
	private async crashes(until: number): Promise<void> {
		let victim = Math.random() < 0.5 ? 0 : 1;
		// The first one early, so that a short run has one too.
		let next =
			Date.now() + Math.min(between(8000, 14_000), (until - Date.now()) / 3);
		for (;;) {
			await sleep(Math.min(next, until) - Date.now());
			if (Date.now() >= until) return;
			const d = this.fleet.deployments[victim]!;
			// Never both out of reach at once: light the survivor's proxy first.
			if (this.fleet.darkProxy === 1 - victim)
				this.fleet.setDark(
					undefined,
					`lighting ${1 - victim === 0 ? "primary" : "secondary"} before the crash`
				);
			await d.crash();
			this.recorder.tally.crashes++;
			this.recorder.event(`kill -9 of deployment ${d.name}`);
			const restartedAt = Date.now();
			await d.start();
			this.recorder.event(
				`deployment ${d.name} back after ${((Date.now() - restartedAt) / 1000).toFixed(1)} s`
			);
			victim = 1 - victim;
			next = Date.now() + between(20_000, 40_000);
		}
	}

	/** Every 3 to 8 s: black out the primary, the secondary, or neither (never the only way to a live deployment). */
	private async switches(until: number): Promise<void> {
		for (;;) {
			await sleep(Math.min(between(3000, 8000), until - Date.now()));
			if (Date.now() >= until) return;
			const choices = ([undefined, 0, 1] as const).filter(
				(dark) =>
					dark !== this.fleet.darkProxy &&
					(dark === undefined || this.fleet.deployments[1 - dark]!.up)
			);
			if (choices.length === 0) continue;
			const dark = pick(choices);
			this.recorder.tally.switches++;
			this.fleet.setDark(
				dark,
				dark === undefined
					? "switch: both URLs answer"
					: `switch: ${dark === 0 ? "primary" : "secondary"} URL dark`
			);
		}
	}
}
