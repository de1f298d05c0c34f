/** bench/scale.svg from given figures: no deployment, well under a second. */
import { describe, expect, it } from "vitest";
import { SCALE_SERIES, scaleSvg } from "../../bench/scale-chart.ts";
import type { ScaleCount } from "../../bench/scale-chart.ts";

const figures: ScaleCount[] = [100, 500, 1000, 2000].map((chats) => ({
	chats,
	series: {
		echo: { p99: 2 + chats / 1000, bytesPerChat: 20_000 },
		durable: { p99: 6 + chats / 100, bytesPerChat: 180_000 },
		memory: { p99: 4 + chats / 200, bytesPerChat: 170_000 },
	},
}));

/** Every `points` attribute of the series' polylines, as [x, y] pairs. */
function lines(svg: string, series: string): [number, number][][] {
	return [
		...svg.matchAll(
			new RegExp(`<polyline data-series="${series}"[^>]* points="([^"]*)"`, "g")
		),
	].map((m) =>
		m[1]!
			.split(" ")
			.filter(Boolean)
			.map((p) => p.split(",").map(Number) as [number, number])
	);
}

describe("scale chart", () => {
	const svg = scaleSvg(figures);

	it("draws each series once per panel, a point per count, left to right", () => {
		for (const series of SCALE_SERIES) {
			const [latency, memory] = lines(svg, series);
			expect(lines(svg, series)).toHaveLength(2);
			for (const points of [latency!, memory!]) {
				expect(points).toHaveLength(4);
				const xs = points.map(([x]) => x);
				expect(xs).toEqual([...xs].sort((a, b) => a - b));
			}
		}
	});

	it("puts a slower series higher, and a larger memory higher", () => {
		const [echoLatency, echoMemory] = lines(svg, "echo");
		const [durableLatency, durableMemory] = lines(svg, "durable");
		// SVG y grows downwards: higher on the chart is a smaller y.
		expect(durableLatency!.at(-1)![1]).toBeLessThan(echoLatency!.at(-1)![1]);
		expect(durableMemory![0]![1]).toBeLessThan(echoMemory![0]![1]);
	});

	it("labels the axes, the counts and the legend", () => {
		for (const label of [
			"concurrent chats",
			"p99 ms (log scale)",
			"KiB per chat",
			"WebSocket echo (baseline)",
			"delivery, durable",
			"delivery, memory",
			"target: 2 × the echo's p99",
			"2,000",
			"500",
		])
			expect(svg).toContain(`>${label}</text>`);
		expect(svg).toMatch(/^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
	});

	it("draws the target, twice the echo's p99, between the echo and a series far above it", () => {
		const target = /<polyline data-target=""[^>]* points="([^"]*)"/.exec(svg);
		const points = target![1]!.split(" ").map((p) => Number(p.split(",")[1]));
		expect(points).toHaveLength(4);
		expect(points.at(-1)).toBeLessThan(lines(svg, "echo")[0]!.at(-1)![1]);
		expect(points.at(-1)).toBeGreaterThan(lines(svg, "durable")[0]!.at(-1)![1]);
	});

	it("leaves out a figure that is missing rather than drawing it at zero", () => {
		const gap = structuredClone(figures);
		gap[3]!.series.memory.p99 = NaN;
		const [latency] = lines(scaleSvg(gap), "memory");
		expect(latency).toHaveLength(3);
		expect(scaleSvg(gap)).not.toContain("NaN");
	});
});
