/** Writes the API document (as `GET /v1/openapi.json` serves it) to the path given, for the OpenAPI linter in .ci/run. */
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";

// The Worker's modules are typed for workerd (tsconfig.json), not Node: loaded by path, so this file's check stays Node's.
const load = (path: string) =>
	import(new URL(path, import.meta.url).href) as Promise<
		Record<string, unknown>
	>;
const { routes } = await load("../src/index.ts");
const { buildDocument } = (await load("../src/openapi-document.ts")) as {
	buildDocument: (routes: unknown) => unknown;
};

const out = process.argv[2] ?? "openapi.json";
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, `${JSON.stringify(buildDocument(routes), null, "\t")}\n`);
console.log(`wrote ${out}`);
