/**
 * Where a profiled frame is in our sources: wrangler dev runs one esbuild bundle (index.js) beside
 * its source map (index.js.map), which maps a bundle line and column back to a source file and line.
 * A small decoder of the map's "mappings" (base64 VLQ), so the bench needs no source-map package.
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

interface RawSourceMap {
	sources: string[];
	mappings: string;
}

/** Per bundle line, its segments as [bundle column, source index, source line], columns ascending. */
type Segments = [number, number, number][][];

const BASE64 =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const digit = new Map([...BASE64].map((c, i) => [c, i]));

function decodeMappings(mappings: string): Segments {
	const lines: Segments = [];
	// Every field but the column is relative to the previous segment across lines.
	let source = 0;
	let sourceLine = 0;
	for (const line of mappings.split(";")) {
		const segments: Segments[number] = [];
		let column = 0;
		for (const segment of line.split(",")) {
			if (!segment) continue;
			const fields = vlq(segment);
			column += fields[0]!;
			if (fields.length >= 4) {
				source += fields[1]!;
				sourceLine += fields[2]!;
				segments.push([column, source, sourceLine]);
			}
		}
		lines.push(segments);
	}
	return lines;
}

function vlq(segment: string): number[] {
	const values: number[] = [];
	let value = 0;
	let shift = 0;
	for (const c of segment) {
		const d = digit.get(c)!;
		value += (d & 31) << shift;
		if (d & 32) shift += 5;
		else {
			values.push(value & 1 ? -(value >>> 1) : value >>> 1);
			value = 0;
			shift = 0;
		}
	}
	return values;
}

/** Our code: the Worker, the rooms and what they share; not node_modules nor wrangler's wrappers. */
const OURS = /^(src|durable-objects|queues)\//;

/** A frame's place resolver for the bundle at `bundleUrl` (a file: URL, as the inspector names it). */
export function sourcePlaces(bundleUrl: string | undefined) {
	let map: { sources: string[]; lines: Segments } | undefined;
	if (bundleUrl?.startsWith("file:")) {
		try {
			const path = fileURLToPath(bundleUrl);
			const raw = JSON.parse(
				readFileSync(`${path}.map`, "utf8")
			) as RawSourceMap;
			// Sources are relative to the bundle's folder (.wrangler/tmp/dev-*/): keep the part from the repo's root.
			const sources = raw.sources.map((s) =>
				s
					.replace(/^(\.\.\/)+/, "")
					.replace(/^.*?node_modules\//, "node_modules/")
			);
			map = { sources, lines: decodeMappings(raw.mappings) };
		} catch {
			map = undefined; // no map: bundle places
		}
	}
	return (frame: { url: string; lineNumber: number; columnNumber: number }) => {
		const bundle = frame.url.split("/").pop() ?? "";
		const fallback = {
			place: frame.url ? `${bundle}:${frame.lineNumber + 1}` : "(native)",
			ours: false,
		};
		// The profile names the bundle by its file name only.
		if (!map || frame.url !== bundleUrl?.split("/").pop()) return fallback;
		const segments = map.lines[frame.lineNumber] ?? [];
		let found: Segments[number][number] | undefined;
		for (const s of segments) {
			if (s[0] > frame.columnNumber) break;
			found = s;
		}
		found ??= segments[0];
		if (!found) return fallback;
		const source = map.sources[found[1]] ?? "?";
		return { place: `${source}:${found[2] + 1}`, ours: OURS.test(source) };
	};
}
