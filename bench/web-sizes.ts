/** The widget's script sizes for `npm run bench` (issue 10, SPEC §11): what it costs a page, raw and gzipped. */
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";

const root = fileURLToPath(new URL("..", import.meta.url));
const publicDir = join(root, "public");

/** SPEC §11. */
export const LOADER_LIMIT_GZ = 10 * 1024;
export const WINDOW_LIMIT_GZ = 35 * 1024;
export const LOADER_FILE = "livechat.js";

export interface ScriptSize {
	/** Path under public/, e.g. "livechat.js". */
	file: string;
	raw: number;
	gzip: number;
}

export interface WebSizes {
	scripts: ScriptSize[];
	loader?: ScriptSize;
	/** The chat window the loader fetches when opened; none while the widget is one script. */
	window?: ScriptSize;
}

/** Builds the web bundles as `npm start` does, then measures every script public/ serves. */
export function webSizes(): WebSizes {
	execFileSync(process.execPath, ["scripts/build-web.mjs"], {
		cwd: root,
		stdio: "inherit",
	});
	const scripts = readdirSync(publicDir, {
		recursive: true,
		withFileTypes: true,
	})
		.filter((entry) => entry.isFile() && /\.m?js$/.test(entry.name))
		.map((entry) => {
			const bytes = readFileSync(join(entry.parentPath, entry.name));
			// node:zlib's default level (6), as servers and CDNs commonly compress.
			return {
				file: relative(publicDir, join(entry.parentPath, entry.name)),
				raw: bytes.length,
				gzip: gzipSync(bytes).length,
			};
		})
		.sort((a, b) => a.file.localeCompare(b.file));
	const widgetChunks = scripts.filter(
		(s) => s.file !== LOADER_FILE && !/console/i.test(s.file)
	);
	return {
		scripts,
		loader: scripts.find((s) => s.file === LOADER_FILE),
		window:
			widgetChunks.find((s) => /window/i.test(s.file)) ??
			widgetChunks.find((s) => /chat|widget/i.test(s.file)),
	};
}
