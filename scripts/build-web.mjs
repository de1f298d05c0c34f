// Bundles the browser sources in web/ into public/ (served as static assets).
import { build } from "esbuild";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));

/**
 * zod re-exports every locale (260 KB minified) through `z.locales`; the browser only ever shows
 * English errors, so the locale index resolves to English alone.
 */
const englishOnlyZod = {
	name: "english-only-zod",
	setup(build) {
		build.onResolve({ filter: /\/locales\/index\.js$/ }, (args) =>
			args.importer.includes(`${"node_modules"}/zod/`) ? { path: "zod-locales", namespace: "english-only-zod" } : undefined,
		);
		build.onLoad({ filter: /.*/, namespace: "english-only-zod" }, () => ({
			contents: `export { default as en } from "zod/v4/locales/en.js";`,
			resolveDir: root,
		}));
	},
};

export async function buildWeb() {
	await build({
		absWorkingDir: root,
		entryPoints: { livechat: "web/widget.ts" },
		outdir: "public",
		bundle: true,
		format: "iife",
		target: "es2022",
		minify: true,
		sourcemap: true,
		logLevel: "warning",
		plugins: [englishOnlyZod],
	});
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await buildWeb();
