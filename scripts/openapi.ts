/** Writes the API document (as `GET /v1/openapi.json` serves it) to the path given, for the OpenAPI linter in .ci/run. */
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { routes } from "../src/index.ts";
import { buildDocument } from "../src/openapi-document.ts";

const out = process.argv[2] ?? "openapi.json";
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, `${JSON.stringify(buildDocument(routes), null, "\t")}\n`);
console.log(`wrote ${out}`);
