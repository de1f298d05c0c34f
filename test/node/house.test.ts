/**
 * The house rules of issue 11 that a reader cannot see file by file: no import cycles among the
 * repository's own sources, and no source file longer than about 300 lines unless it says why at
 * its top. Reads files only: no build, no dependency, well under a second.
 */
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const root = fileURLToPath(new URL("../..", import.meta.url));
const SOURCE_DIRS = [
	"src",
	"durable-objects",
	"queues",
	"client",
	"web",
	"scripts",
	"bench",
];
const EXTENSIONS = [".ts", ".tsx", ".mjs"];
/** "About 300 lines": past this a file must say why at its top. */
const LINE_LIMIT = 330;
/** The reason, on one of a file's first lines: `// Longer than 300 lines because …`. */
const REASON = /^\s*\/\/ Longer than 300 lines because \S/;
const REASON_WITHIN_LINES = 10;

/** Every source file (repository-relative), tests and generated declarations left out. */
function sourceFiles(): string[] {
	const files: string[] = [];
	const walk = (dir: string) => {
		for (const entry of readdirSync(join(root, dir), { withFileTypes: true })) {
			const path = join(dir, entry.name);
			if (entry.isDirectory()) {
				if (entry.name !== "node_modules") walk(path);
			} else if (
				EXTENSIONS.some((ext) => entry.name.endsWith(ext)) &&
				!entry.name.endsWith(".d.ts") &&
				!/\.test\.tsx?$/.test(entry.name)
			) {
				files.push(path);
			}
		}
	};
	for (const dir of SOURCE_DIRS) if (existsSync(join(root, dir))) walk(dir);
	return files.sort();
}

/**
 * Static imports and re-exports (`import … from`, `export … from`, `import "…"`). `import type` and
 * `export type` are left out: they are erased when compiled (verbatimModuleSyntax makes them
 * explicit), so a cycle through them orders no module's evaluation and can leave nothing
 * half-initialised. An `import { type A }` is kept: it still loads the module. Dynamic `import()`
 * is left out too: it runs after every module has been evaluated.
 */
const STATIC_IMPORT =
	/^[ \t]*(?:import|export)[ \t]+(type[ \t]+)?(?:(?:[\w$]+[ \t]*,[ \t]*)?(?:\{[^}]*\}|\*(?:[ \t]+as[ \t]+[\w$]+)?|[\w$]+)[ \t\n]*from[ \t]*)?["']([^"'\n]+)["']/gm;

function runtimeImports(file: string, text: string): string[] {
	const found: string[] = [];
	for (const match of text.matchAll(STATIC_IMPORT)) {
		const [, typeOnly, specifier] = match;
		if (typeOnly || !specifier!.startsWith(".")) continue;
		const target = resolveImport(file, specifier!);
		if (target) found.push(target);
	}
	return found;
}

function resolveImport(from: string, specifier: string): string | undefined {
	const base = resolve(root, dirname(from), specifier);
	for (const candidate of [
		base,
		...EXTENSIONS.map((ext) => base + ext),
		...EXTENSIONS.map((ext) => join(base, `index${ext}`)),
	])
		if (existsSync(candidate) && statSync(candidate).isFile())
			return relative(root, candidate);
	return undefined;
}

/** Each set of files that import one another in a circle (Tarjan's strongly connected components), as one cycle through them. */
function importCycles(graph: Map<string, string[]>): string[][] {
	let counter = 0;
	const index = new Map<string, number>();
	const low = new Map<string, number>();
	const stack: string[] = [];
	const onStack = new Set<string>();
	const cycles: string[][] = [];
	const visit = (node: string) => {
		index.set(node, counter);
		low.set(node, counter++);
		stack.push(node);
		onStack.add(node);
		for (const next of graph.get(node) ?? []) {
			if (!index.has(next)) {
				visit(next);
				low.set(node, Math.min(low.get(node)!, low.get(next)!));
			} else if (onStack.has(next)) {
				low.set(node, Math.min(low.get(node)!, index.get(next)!));
			}
		}
		if (low.get(node) !== index.get(node)) return;
		const component = new Set<string>();
		let member: string;
		do {
			member = stack.pop()!;
			onStack.delete(member);
			component.add(member);
		} while (member !== node);
		if (component.size > 1 || graph.get(node)?.includes(node))
			cycles.push(cycleThrough(node, component, graph));
	};
	for (const node of graph.keys()) if (!index.has(node)) visit(node);
	return cycles;
}

/** One concrete circle from `start` back to it, inside its component (breadth first: the shortest). */
function cycleThrough(
	start: string,
	component: Set<string>,
	graph: Map<string, string[]>
): string[] {
	const cameFrom = new Map<string, string>();
	const queue = [start];
	while (queue.length > 0) {
		const node = queue.shift()!;
		for (const next of graph.get(node) ?? []) {
			if (!component.has(next)) continue;
			if (next === start) {
				const path = [node];
				while (path[0] !== start) path.unshift(cameFrom.get(path[0]!)!);
				return [...path, start];
			}
			if (!cameFrom.has(next)) {
				cameFrom.set(next, node);
				queue.push(next);
			}
		}
	}
	return [...component];
}

const files = sourceFiles();
const texts = new Map(
	files.map((file) => [file, readFileSync(join(root, file), "utf8")])
);

describe("house rules (issue 11)", () => {
	it("reads the sources it is meant to", () => {
		expect(files).toContain("src/index.ts");
		expect(files).toContain("web/loader.ts");
		expect(files).toContain("scripts/build-web.mjs");
		expect(
			runtimeImports("web/chat-window.ts", texts.get("web/chat-window.ts")!)
		).toContain("web/chat-window-panel.ts");
	});

	it("tells runtime imports from type-only ones, and finds a cycle", () => {
		const text = [
			'import { a } from "./idb-store.ts";',
			'import type { B } from "./widget-shared.ts";',
			'import {\n\ttype C,\n\td,\n} from "./chat-window-state.ts";',
			'export { e } from "./loader.ts";',
			'export type { F } from "./chat-window.ts";',
			'import "./chat-window-style";',
			'import { z } from "zod";',
		].join("\n");
		expect(runtimeImports("web/x.ts", text)).toEqual([
			"web/idb-store.ts",
			"web/chat-window-state.ts",
			"web/loader.ts",
			"web/chat-window-style.ts",
		]);
		const graph = new Map([
			["a", ["b"]],
			["b", ["c"]],
			["c", ["a", "d"]],
			["d", []],
			["e", ["e"]],
		]);
		expect(importCycles(graph)).toEqual([
			["a", "b", "c", "a"],
			["e", "e"],
		]);
	});

	it("has no import cycles among the repository's own sources", () => {
		const graph = new Map(
			files.map((file) => [file, runtimeImports(file, texts.get(file)!)])
		);
		const cycles = importCycles(graph).map((cycle) => cycle.join(" → "));
		expect(cycles, `import cycles:\n${cycles.join("\n")}`).toEqual([]);
	});

	it(`has no source file over ${LINE_LIMIT} lines without a reason at its top`, () => {
		const offenders = files.flatMap((file) => {
			const lines = texts.get(file)!.replace(/\n$/, "").split("\n");
			if (lines.length <= LINE_LIMIT) return [];
			const explained = lines
				.slice(0, REASON_WITHIN_LINES)
				.some((line) => REASON.test(line));
			return explained ? [] : [`${file} (${lines.length} lines)`];
		});
		expect(
			offenders,
			`over ${LINE_LIMIT} lines with no "// Longer than 300 lines because …" in the first ${REASON_WITHIN_LINES} lines:\n${offenders.join("\n")}`
		).toEqual([]);
	});
});
