/**
 * The routing checks of the chaos run once the faults are over (chaos-owners.ts has the rules): the
 * rooms' word on each chat read through A as a supervisor (offsets 0/0, so the answer carries the
 * chatState), set beside what every console, the dispatcher's lists and the Supervise list show;
 * and every chat's owners over time, from every chatState handed out during the run.
 */
import {
	addOwnerFindings,
	checkOwnerHistory,
	checkRouting,
	noOwnerFindings,
} from "./chaos-owners.ts";
import { SITE } from "./chaos-recorder.ts";
import { forEachLimit, retry, sleep, within } from "./chaos-util.ts";
import type { Consoles } from "./chaos-consoles.ts";
import type { Fleet } from "./chaos-fleet.ts";
import type {
	ChatTruth,
	OwnerFindings,
	RoomState,
	RoutingSnapshot,
} from "./chaos-owners.ts";
import type { ChatUnderTest, Recorder } from "./chaos-recorder.ts";
import type { StateOpener } from "./chaos-sealed.ts";

const ROUND_PAUSE_MS = 3000;
const CALL_LIMIT_MS = 60_000;

export class RoutingCheck {
	/** The rooms' word as last read, by chat. */
	truth = new Map<string, ChatTruth | undefined>();

	constructor(
		private readonly recorder: Recorder,
		private readonly fleet: Fleet,
		private readonly consoles: Consoles,
		private readonly supervisorToken: string,
		private readonly open: StateOpener
	) {}

	/**
	 * Snapshots until one passes or the time is up (a console may still be reconnecting, a released
	 * frame on its way); the findings of the last. Nothing here waits on a clock for its verdict.
	 */
	async settle(phase: string, ms: number): Promise<OwnerFindings> {
		const deadline = Date.now() + ms;
		// A console that lost its socket under the faults may be in its backoff (up to its 30 s heartbeat): its hello comes first.
		for (;;) {
			const away = [...this.consoles.clients].filter(
				([, client]) => client.connectionState !== "websocket"
			);
			if (away.length === 0) break;
			if (Date.now() >= deadline) {
				this.recorder.event(
					`routing ${phase}: consoles not back on their socket: ${away.map(([id]) => id).join(", ")}`
				);
				break;
			}
			await sleep(500);
		}
		for (let round = 1; ; round++) {
			const found = checkRouting(await this.snapshot(phase));
			if (found.problems.length === 0 || Date.now() >= deadline) {
				this.recorder.event(
					`routing ${phase}: ${found.problems.length} problem(s) after ${round} round(s)`
				);
				return found;
			}
			await sleep(ROUND_PAUSE_MS);
		}
	}

	/** Every chat's owners over time, from every chatState seen (chaos-owners.ts), and the history itself for the traces. */
	async history(): Promise<{
		found: OwnerFindings;
		history: Map<string, RoomState[]>;
	}> {
		const found = noOwnerFindings();
		const history = new Map<string, RoomState[]>();
		for (const chat of this.recorder.chats) {
			const states: RoomState[] = [];
			for (const [sealed, seen] of chat.sealedStates) {
				const meta = await this.open(SITE, chat.id, sealed);
				if (!meta) {
					found.statesUnread++;
					found.problems.push(
						`chat ${chat.id}: a chatState handed to ${seen.seenBy} via ${seen.via} at ${seen.at.toFixed(1)} s does not open under the local keys`
					);
					continue;
				}
				states.push({
					v: meta.v,
					status: meta.status,
					agentIds: meta.agentIds,
					pastAgentIds: meta.pastAgentIds ?? [],
					...seen,
				});
			}
			history.set(
				chat.id,
				states.sort((a, b) => a.at - b.at)
			);
			addOwnerFindings(found, checkOwnerHistory(chat.id, states));
		}
		return { found, history };
	}

	private async snapshot(phase: string): Promise<RoutingSnapshot> {
		const { chats } = this.recorder;
		await forEachLimit(chats, 10, async (chat) => {
			this.truth.set(chat.id, await this.roomWord(chat));
		});
		const [agents, live, queue] = await Promise.all([
			this.read<{ agents: { id: string; free: number }[] }>(
				"/agents",
				this.supervisorToken
			),
			this.read<{ chats: { chatId: string; agentIds: string[] }[] }>(
				"/live-chats",
				this.supervisorToken
			),
			this.read<{ waiting: { chatId: string }[] }>(
				"/queue",
				this.supervisorToken
			),
		]);
		const free = new Map(agents?.agents.map((a) => [a.id, a.free]));
		const consoles = await Promise.all(
			this.consoles.agents.map(async (agent) => ({
				id: agent.id,
				maxChats: agent.maxChats,
				free: free.get(agent.id),
				console: [...(this.consoles.clients.get(agent.id)?.chats.keys() ?? [])],
				dispatcherList: (
					await this.read<{ chats: { chatId: string }[] }>(
						"/agents/me/chats",
						this.consoles.tokens.get(agent.id)!
					)
				)?.chats.map((c) => c.chatId),
			}))
		);
		const named = new Set([
			...consoles.flatMap((c) => [...c.console, ...(c.dispatcherList ?? [])]),
			...(live?.chats.map((c) => c.chatId) ?? []),
		]);
		const strangers = new Map<string, ChatTruth | undefined>();
		await forEachLimit(
			[...named].filter((id) => !this.truth.has(id)),
			10,
			async (chatId) =>
				void strangers.set(chatId, (await this.readRoom(chatId)).truth)
		);
		this.recorder.tally.strangers = Math.max(
			this.recorder.tally.strangers,
			strangers.size
		);
		return {
			phase,
			truth: this.truth,
			strangers,
			agents: consoles,
			superviseList: live?.chats,
			queue: queue?.waiting.map((w) => w.chatId),
			neverAssigned: chats
				.filter((c) => c.agentClients.size === 0)
				.map((c) => c.id),
		};
	}

	/**
	 * The chat as A's room has it, read as a supervisor from 0/0 (the answer then carries the chatState).
	 * A memory-mode room that lost the chat answers code 1: the visitor's client rebuilds it for the next round.
	 */
	private async roomWord(chat: ChatUnderTest): Promise<ChatTruth | undefined> {
		const read = await this.readRoom(chat.id);
		if (read.truth && read.chatState) {
			this.recorder.observeState(
				chat,
				"the supervisor",
				this.fleet.deployments[0].name,
				read.chatState
			);
			return read.truth;
		}
		this.recorder.note(
			chat,
			undefined,
			`the room's word on A: ${read.said}; the visitor polls`
		);
		await within(chat.clients.visitor.poll(), CALL_LIMIT_MS, "poll").catch(
			(error) => this.recorder.clientError(chat, "visitor", "settle", error)
		);
		return undefined;
	}

	/** A chat as A's room has it, read as a supervisor from 0/0 (the answer then carries the chatState). */
	private async readRoom(
		chatId: string
	): Promise<{ truth?: ChatTruth; chatState?: string; said: string }> {
		try {
			const response = await fetch(
				`${this.fleet.deployments[0].url}/v1/sites/${SITE}/chats/${chatId}/messages`,
				{
					headers: {
						Authorization: `Bearer ${this.supervisorToken}`,
						"X-Visitor-Data-Offset": "0",
						"X-Agent-Data-Offset": "0",
					},
					signal: AbortSignal.timeout(10_000),
				}
			);
			const body = (await response.json()) as {
				code?: number;
				chatState?: string;
			};
			const said = `${response.status} code ${body.code ?? "-"}`;
			if (!response.ok || body.code !== 0 || !body.chatState) return { said };
			const meta = await this.open(SITE, chatId, body.chatState);
			if (!meta) return { said: `${said}, a chatState that does not open` };
			return {
				truth: { status: meta.status, agentIds: meta.agentIds },
				chatState: body.chatState,
				said,
			};
		} catch (error) {
			return { said: `failed: ${String(error)}` };
		}
	}

	/** A site call on A; undefined when it keeps failing. */
	private async read<T>(path: string, token: string): Promise<T | undefined> {
		return retry(async () => {
			const response = await fetch(
				`${this.fleet.deployments[0].url}/v1/sites/${SITE}${path}`,
				{
					headers: { Authorization: `Bearer ${token}` },
					signal: AbortSignal.timeout(10_000),
				}
			);
			if (!response.ok)
				throw new Error(`${path}: ${response.status} ${await response.text()}`);
			return (await response.json()) as T;
		}, 3).catch(() => undefined);
	}
}
