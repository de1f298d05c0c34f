import { describe, expect, it, vi } from "vitest";
import { Transport } from "../client/transport.ts";

const PRIMARY = "http://primary.test";
const SECONDARY = "http://secondary.test";

/** A fetch where the named deployments answer 200 and the rest refuse the connection. */
function network(
	up: Set<string>,
	seen: string[] = [],
	status = 200
): typeof fetch {
	return async (input) => {
		const origin = new URL(String(input)).origin;
		seen.push(origin);
		if (!up.has(origin)) throw new TypeError("connection refused");
		return new Response("{}", { status });
	};
}

describe("Transport", () => {
	it("moves to the secondary when the primary does not answer, and back after failBackAfterMs", async () => {
		// The clock the transport reads is the test's: "not yet" does not depend on how fast the requests go.
		vi.useFakeTimers({ toFake: ["Date"] });
		try {
			const up = new Set([SECONDARY]);
			const transport = new Transport({
				baseUrls: [PRIMARY, SECONDARY],
				fetch: network(up),
				failBackAfterMs: 60_000,
				backoffMs: 1,
			});
			await transport.request("/x");
			expect(transport.baseUrl).toBe(SECONDARY);
			const leftAt = Date.now();
			up.add(PRIMARY);
			vi.setSystemTime(leftAt + 59_999);
			await transport.request("/x");
			expect(transport.baseUrl).toBe(SECONDARY); // not yet
			vi.setSystemTime(leftAt + 60_000);
			await transport.request("/x");
			expect(transport.baseUrl).toBe(PRIMARY);
		} finally {
			vi.useRealTimers();
		}
	});

	it("does not flip back to a dead deployment when several requests fail at once", async () => {
		const seen: string[] = [];
		const transport = new Transport({
			baseUrls: [PRIMARY, SECONDARY],
			fetch: network(new Set([SECONDARY]), seen),
			backoffMs: 1,
		});
		await Promise.all([
			transport.request("/a"),
			transport.request("/b"),
			transport.request("/c"),
		]);
		expect(transport.baseUrl).toBe(SECONDARY);
		seen.length = 0;
		await transport.request("/d");
		expect(seen).toEqual([SECONDARY]);
	});

	it("gives a 5xx one more try on the same deployment before failing over", async () => {
		const seen: string[] = [];
		let failures = 1;
		const flaky: typeof fetch = async (input) => {
			seen.push(new URL(String(input)).origin);
			return new Response("{}", { status: failures-- > 0 ? 503 : 200 });
		};
		const transport = new Transport({
			baseUrls: [PRIMARY, SECONDARY],
			fetch: flaky,
			backoffMs: 1,
		});
		expect((await transport.request("/x")).status).toBe(200);
		expect(seen).toEqual([PRIMARY, PRIMARY]);
		expect(transport.baseUrl).toBe(PRIMARY);
	});

	it("gives up with Unreachable when nothing answers", async () => {
		const transport = new Transport({
			baseUrls: [PRIMARY, SECONDARY],
			fetch: network(new Set()),
			backoffMs: 1,
			attempts: 2,
		});
		await expect(transport.request("/x")).rejects.toThrow(
			"no deployment answered"
		);
	});

	it("bounds a request and its body by one deadline, even when the body stalls and ignores the abort", async () => {
		// The primary sends its headers, then nothing: its body neither ends nor errors, whatever the signal says.
		const stalling: typeof fetch = async (input) => {
			if (new URL(String(input)).origin === SECONDARY)
				return new Response('{"code":0}', { status: 200 });
			return new Response(
				new ReadableStream({
					start: (controller) =>
						controller.enqueue(new TextEncoder().encode('{"co')),
				}),
				{ status: 200 }
			);
		};
		const transport = new Transport({
			baseUrls: [PRIMARY, SECONDARY],
			fetch: stalling,
			// The deadline is real time (AbortSignal.timeout), so it is far longer than the secondary's answer,
			// made in memory, can take on a loaded machine; the primary's stalled body is cut by it whatever the load.
			timeoutMs: 1000,
			backoffMs: 1,
		});
		// Without the deadline this never settles (the body never ends): the test would time out.
		const response = await transport.request("/x");
		expect(await response.json()).toEqual({ code: 0 });
		expect(transport.baseUrl).toBe(SECONDARY);
	});

	it("hands back the whole body with its status and headers", async () => {
		const answering: typeof fetch = async () =>
			new Response(
				new ReadableStream({
					start: (c) => (
						c.enqueue(new TextEncoder().encode('{"a":')),
						c.enqueue(new TextEncoder().encode("1}")),
						c.close()
					),
				}),
				{
					status: 409,
					headers: { "X-Visitor-Data-Offset": "3" },
				}
			);
		const response = await new Transport({
			baseUrls: [PRIMARY],
			fetch: answering,
		}).request("/x");
		expect(response.status).toBe(409);
		expect(response.headers.get("X-Visitor-Data-Offset")).toBe("3");
		expect(await response.json()).toEqual({ a: 1 });
	});
});
