/**
 * SPEC §11's chaos run, short, inside `npm test`: 20 chats and 30 s of faults per storage mode
 * (evictions, kill -9 of a deployment, primary/secondary switches) on two real local deployments.
 * `npm run chaos` (bench/chaos.ts) is the full run and the only one that writes bench/CHAOS.md.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { checkChat, MUST_BE_ZERO } from "../../bench/chaos-check.ts";
import { runChaos } from "../../bench/chaos-run.ts";
import type { ChatOutcome } from "../../bench/chaos-check.ts";
import type { ChatMessage } from "../../src/protocol/chat.ts";

const workRoot = mkdtempSync(join(tmpdir(), "elc-chaos-test-"));
afterAll(() => rmSync(workRoot, { recursive: true, force: true }));

describe("the chaos run's checks", () => {
	const message = (
		id: string,
		type: 1 | 2 | 4,
		dataOffset: number,
		sendTime: number
	): ChatMessage => ({ id, type, dataOffset, sendTime, content: id, mac: "m" });
	const v1 = message("v1", 1, 1, 10);
	const a1 = message("a1", 2, 1, 20);
	const v2 = message("v2", 1, 2, 30);
	const whole = [v1, a1, v2];
	const outcome = (changes: Partial<ChatOutcome> = {}): ChatOutcome => ({
		chatId: "c",
		sent: { visitor: ["v1", "v2"], agent: ["a1"] },
		accepted: new Set(["v1", "v2", "a1"]),
		copies: { visitor: whole, agent: whole, server: whole },
		transcripts: [{ deployment: "A", messageIds: ["v1", "a1", "v2"] }],
		mustBePersistedOn: ["A"],
		...changes,
	});
	const counts = (o: ChatOutcome) =>
		Object.fromEntries(MUST_BE_ZERO.map((k) => [k, checkChat(o)[k]]));

	it("find nothing wrong in a whole chat", () => {
		expect(checkChat(outcome()).problems).toEqual([]);
	});

	it("find what went wrong", () => {
		expect(
			counts(
				outcome({ copies: { visitor: whole, agent: [v1, a1], server: whole } })
			)
		).toMatchObject({ lost: 1, copiesDiffer: 1 });
		expect(
			counts(
				outcome({ copies: { visitor: whole, agent: whole, server: undefined } })
			)
		).toMatchObject({ lost: 3 });
		expect(
			counts(
				outcome({
					copies: { visitor: [v1, a1, v2, v2], agent: whole, server: whole },
				})
			)
		).toMatchObject({ doubled: 1, offsetGaps: 1 });
		const swapped = [message("v2", 1, 1, 10), a1, message("v1", 1, 2, 30)];
		expect(
			counts(
				outcome({
					copies: { visitor: swapped, agent: swapped, server: swapped },
				})
			)
		).toMatchObject({ outOfOrder: 1, copiesDiffer: 0 });
		expect(
			counts(
				outcome({
					copies: {
						visitor: whole,
						agent: whole,
						server: [v1, a1, { ...v2, sendTime: 15 }],
					},
				})
			)
		).toMatchObject({ copiesDiffer: 1, lost: 0 });
		expect(
			counts(
				outcome({
					copies: {
						visitor: [v1, a1, message("v2", 1, 3, 30)],
						agent: whole,
						server: whole,
					},
				})
			)
		).toMatchObject({ offsetGaps: 1 });
		expect(
			counts(
				outcome({
					transcripts: [{ deployment: "A", messageIds: ["v1", "a1"] }],
				})
			)
		).toMatchObject({ transcriptsShort: 1 });
		expect(counts(outcome({ transcripts: [] }))).toMatchObject({
			notPersisted: 1,
		});
	});
});

describe.each(["durable", "memory"] as const)(
	"a short chaos run in %s mode",
	(chatState) => {
		it("loses, doubles and reorders nothing while rooms are evicted, deployments crash and clients switch", async () => {
			// The run's progress is shown only when something is wrong, with the traces of the chats concerned.
			const progress: string[] = [];
			const figures = await runChaos({
				chatState,
				seconds: 30,
				chats: 20,
				ports: [19777, 19778],
				workDir: join(workRoot, chatState),
				settleMs: 60_000,
				persistMs: 90_000,
				log: (line) => progress.push(line),
			});
			expect(
				figures.problems,
				`${progress.join("\n")}\ntraces: ${figures.tracesFile}`
			).toEqual([]);
			expect(
				Object.fromEntries(MUST_BE_ZERO.map((k) => [k, figures[k]]))
			).toEqual(Object.fromEntries(MUST_BE_ZERO.map((k) => [k, 0])));
			expect(figures.unsettled).toBe(0);
			expect(figures.messagesAccepted).toBeGreaterThan(100);
			// The faults did happen, and the clients did rebuild.
			expect(figures.evictions).toBeGreaterThan(0);
			expect(figures.crashes).toBeGreaterThanOrEqual(1);
			expect(figures.switches).toBeGreaterThan(0);
			expect(figures.rebuilds).toBeGreaterThan(0);
		}, 420_000);
	}
);
