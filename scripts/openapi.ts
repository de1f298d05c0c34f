/** Writes the API document (as `GET /v1/openapi.json` serves it) to the path given, for the OpenAPI linter in .ci/run. */
import { writeFileSync } from "node:fs";
import { routes } from "../src/index.ts";
import { buildDocument } from "../src/openapi-document.ts";

const out = process.argv[2] ?? "openapi.json";
writeFileSync(out, `${JSON.stringify(buildDocument(routes), null, "\t")}\n`);
console.log(`wrote ${out}`);
