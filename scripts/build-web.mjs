// Bundles the browser sources in web/ into public/ (served as static assets).
import { mkdir, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const root = fileURLToPath(new URL("..", import.meta.url));
const publicDir = join(root, "public");
/** Where source maps go for local debugging (DevTools: "Add source map…"): never public/, which is served. */
export const MAPS_DIR = join(root, ".wrangler", "web-maps");

/**
 * Put it in every build's plugins: its maps go to MAPS_DIR, and the bundles carry no
 * sourceMappingURL comment, so nothing served points at the sources (test/node/no-public-maps.test.ts).
 */
const privateSourceMaps = {
	name: "private-source-maps",
	setup(build) {
		const options = build.initialOptions;
		if (options.sourcemap) options.sourcemap = "external";
		options.write = false;
		build.onEnd(async (result) => {
			for (const file of result.outputFiles ?? []) {
				const path = file.path.endsWith(".map")
					? join(MAPS_DIR, relative(publicDir, file.path))
					: file.path;
				await mkdir(dirname(path), { recursive: true });
				await writeFile(path, file.contents);
			}
		});
	},
};

/**
 * zod re-exports every locale (260 KB minified) through `z.locales`; the browser only ever shows
 * English errors, so the locale index resolves to English alone.
 */
const englishOnlyZod = {
	name: "english-only-zod",
	setup(build) {
		build.onResolve({ filter: /\/locales\/index\.js$/ }, (args) =>
			args.importer.includes(`${"node_modules"}/zod/`)
				? { path: "zod-locales", namespace: "english-only-zod" }
				: undefined
		);
		build.onLoad({ filter: /.*/, namespace: "english-only-zod" }, () => ({
			contents: `export { default as en } from "zod/v4/locales/en.js";`,
			resolveDir: root,
		}));
	},
};

export async function buildWeb() {
	// Maps left in public/ by older builds would still be served.
	for (const entry of await readdir(publicDir, { recursive: true }))
		if (entry.endsWith(".map")) await rm(join(publicDir, entry));
	await build({
		absWorkingDir: root,
		// The widget: a small loader on every page view, the chat window only when needed (SPEC §9, §11).
		entryPoints: {
			livechat: "web/loader.ts",
			"livechat-window": "web/chat-window.ts",
		},
		outdir: "public",
		bundle: true,
		format: "iife",
		target: "es2022",
		minify: true,
		sourcemap: true,
		logLevel: "warning",
		plugins: [englishOnlyZod, privateSourceMaps],
	});
	// The agent console (web/console): Preact through esbuild's JSX, served at /console (public/console.html).
	await build({
		absWorkingDir: root,
		entryPoints: { console: "web/console/main.tsx" },
		outdir: "public",
		bundle: true,
		format: "iife",
		target: "es2022",
		minify: true,
		jsx: "automatic",
		jsxImportSource: "preact",
		logLevel: "warning",
		plugins: [englishOnlyZod],
	});
	await copyDocsViewer();
}

/**
 * The API reference at /docs (SPEC §4): Swagger UI's standalone files served from the deployment's
 * own assets (no CDN) beside public/docs/index.html, which points it at /v1/openapi.json.
 */
async function copyDocsViewer() {
	const from = join(root, "node_modules", "swagger-ui-dist");
	for (const file of ["swagger-ui-bundle.js", "swagger-ui.css"]) {
		const text = await readFile(join(from, file), "utf8");
		// Nothing served names a source map (test/node/no-public-maps.test.ts).
		await writeFile(
			join(publicDir, "docs", file),
			text.replace(/\n?\/[*/]# sourceMappingURL=\S+( \*\/)?\s*$/, "\n")
		);
	}
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await buildWeb();
