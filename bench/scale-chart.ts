/**
 * bench/scale.svg (SPEC §11 "Scale"): how delivery p99 and memory per chat grow with the number of
 * concurrent chats, one line per series. Hand-written SVG, no dependency, so that it renders as an
 * image on GitHub; pure (figures in, text out) so that a unit test reads it without a deployment.
 */

export const SCALE_SERIES = ["echo", "durable", "memory"] as const;
export type ScaleSeries = (typeof SCALE_SERIES)[number];

/** What the chart needs of one series at one count. */
export interface ScaleFigure {
	p99: number;
	bytesPerChat: number;
}

export interface ScaleCount {
	chats: number;
	series: Record<ScaleSeries, ScaleFigure>;
}

export const SERIES_LABELS: Record<ScaleSeries, string> = {
	echo: "WebSocket echo (baseline)",
	durable: "delivery, durable",
	memory: "delivery, memory",
};
const COLOURS: Record<ScaleSeries, string> = {
	echo: "#6b7280",
	durable: "#1d4ed8",
	memory: "#d97706",
};

const TARGET_COLOUR = "#dc2626";

const WIDTH = 640;
const PLOT = { left: 72, right: 24, width: WIDTH - 72 - 24, height: 190 };
const PANELS = { latencyTop: 86, memoryTop: 86 + 190 + 80 };
const HEIGHT = PANELS.memoryTop + PLOT.height + 56;

const esc = (s: string) =>
	s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
const num = (n: number) => (Math.round(n * 10) / 10).toString();
const text = (x: number, y: number, body: string, attrs = "") =>
	`<text x="${num(x)}" y="${num(y)}"${attrs ? ` ${attrs}` : ""}>${esc(body)}</text>`;

/** An axis: where a value lands on the plot (0 = bottom, 1 = top), and the ticks to draw. */
interface Axis {
	at(value: number): number;
	ticks: number[];
}

/** Latency spans orders of magnitude between 100 and 2,000 chats: log scale, ticks at 1, 2, 5 × 10^k. */
function logAxis(values: number[]): Axis {
	const lo = Math.floor(Math.log10(Math.min(...values)));
	const hi = Math.max(lo + 1, Math.ceil(Math.log10(Math.max(...values))));
	const ticks: number[] = [];
	for (let k = lo; k <= hi; k++)
		for (const m of [1, 2, 5])
			if (m * 10 ** k <= 10 ** hi) ticks.push(m * 10 ** k);
	return { at: (v) => (Math.log10(v) - lo) / (hi - lo), ticks };
}

/** Memory per chat from 0: linear, about five round ticks. */
function linearAxis(values: number[]): Axis {
	const max = Math.max(...values, 1);
	const raw = max / 5;
	const step =
		[1, 2, 5, 10]
			.map((m) => m * 10 ** Math.floor(Math.log10(raw)))
			.find((s) => s >= raw) ?? raw;
	const top = Math.ceil(max / step) * step;
	const ticks: number[] = [];
	for (let t = 0; t <= top + step / 2; t += step) ticks.push(t);
	return { at: (v) => v / top, ticks };
}

/** One panel: frame, ticks, axis titles, a polyline and markers per series. */
function panel(
	top: number,
	title: string,
	yTitle: string,
	counts: ScaleCount[],
	value: (f: ScaleFigure) => number,
	axis: (values: number[]) => Axis,
	/** A dashed reference line (SPEC §11's target), part of the axis range. */
	target?: (c: ScaleCount) => number
): string[] {
	const usable = (v: number) => Number.isFinite(v) && v > 0;
	const values = counts.flatMap((c) =>
		[...SCALE_SERIES.map((s) => value(c.series[s])), target?.(c) ?? NaN].filter(
			usable
		)
	);
	const y = axis(values.length ? values : [1]);
	const maxChats = Math.max(...counts.map((c) => c.chats));
	const px = (chats: number) => PLOT.left + (chats / maxChats) * PLOT.width;
	const py = (v: number) => top + PLOT.height - y.at(v) * PLOT.height;
	const bottom = top + PLOT.height;
	const out = [
		text(PLOT.left, top - 14, title, 'font-weight="bold"'),
		`<rect x="${PLOT.left}" y="${top}" width="${PLOT.width}" height="${PLOT.height}" fill="none" stroke="#9ca3af"/>`,
	];
	for (const t of y.ticks) {
		const ty = py(t);
		out.push(
			`<line x1="${PLOT.left}" y1="${num(ty)}" x2="${PLOT.left + PLOT.width}" y2="${num(ty)}" stroke="#e5e7eb"/>`,
			text(PLOT.left - 6, ty + 4, num(t), 'text-anchor="end"')
		);
	}
	for (const c of counts)
		out.push(
			`<line x1="${num(px(c.chats))}" y1="${bottom}" x2="${num(px(c.chats))}" y2="${bottom + 4}" stroke="#9ca3af"/>`,
			text(
				px(c.chats),
				bottom + 18,
				c.chats.toLocaleString("en-US"),
				'text-anchor="middle"'
			)
		);
	out.push(
		text(
			PLOT.left + PLOT.width / 2,
			bottom + 38,
			"concurrent chats",
			'text-anchor="middle"'
		),
		text(
			18,
			top + PLOT.height / 2,
			yTitle,
			`text-anchor="middle" transform="rotate(-90 18 ${num(top + PLOT.height / 2)})"`
		)
	);
	for (const s of SCALE_SERIES) {
		const points = counts
			.filter((c) => usable(value(c.series[s])))
			.map((c) => [px(c.chats), py(value(c.series[s])), value(c.series[s])]);
		out.push(
			`<polyline data-series="${s}" fill="none" stroke="${COLOURS[s]}" stroke-width="2" points="${points.map(([x, y]) => `${num(x!)},${num(y!)}`).join(" ")}"/>`,
			...points.map(
				([x, y, v]) =>
					`<circle cx="${num(x!)}" cy="${num(y!)}" r="3.5" fill="${COLOURS[s]}"><title>${esc(`${SERIES_LABELS[s]}: ${num(v!)}`)}</title></circle>`
			)
		);
	}
	if (target) {
		const points = counts.filter((c) => usable(target(c)));
		out.push(
			`<polyline data-target="" fill="none" stroke="${TARGET_COLOUR}" stroke-width="1.5" stroke-dasharray="5 4" points="${points.map((c) => `${num(px(c.chats))},${num(py(target(c)))}`).join(" ")}"/>`
		);
	}
	return out;
}

function legend(): string[] {
	const entry = (i: number, label: string, stroke: string) => {
		const x = 24 + (i % 3) * 210;
		const y = 20 + Math.floor(i / 3) * 18;
		return [
			`<line x1="${x}" y1="${y}" x2="${x + 22}" y2="${y}" ${stroke}/>`,
			text(x + 28, y + 4, label),
		];
	};
	return [
		...SCALE_SERIES.flatMap((s, i) =>
			entry(i, SERIES_LABELS[s], `stroke="${COLOURS[s]}" stroke-width="3"`)
		),
		...entry(
			3,
			"target: 2 × the echo's p99",
			`stroke="${TARGET_COLOUR}" stroke-width="1.5" stroke-dasharray="5 4"`
		),
	];
}

/** The whole chart: delivery p99 (log scale) above, memory per chat below, same x axis. */
export function scaleSvg(counts: ScaleCount[]): string {
	const sorted = [...counts].sort((a, b) => a.chats - b.chats);
	return [
		`<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" font-family="sans-serif" font-size="12" fill="#111827">`,
		`<rect width="${WIDTH}" height="${HEIGHT}" fill="#ffffff"/>`,
		...legend(),
		...panel(
			PANELS.latencyTop,
			"Visitor → agent delivery p99, one message per chat per second",
			"p99 ms (log scale)",
			sorted,
			(f) => f.p99,
			logAxis,
			(c) => 2 * c.series.echo.p99
		),
		...panel(
			PANELS.memoryTop,
			"Memory per chat (workerd resident memory ÷ chats)",
			"KiB per chat",
			sorted,
			(f) => f.bytesPerChat / 1024,
			linearAxis
		),
		"</svg>",
		"",
	].join("\n");
}
