/** public/ is served to everyone, so after a build it holds no source map and nothing points at one. */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
// @ts-expect-error: a plain .mjs script, without type declarations
import { buildWeb } from "../../scripts/build-web.mjs";

const publicDir = fileURLToPath(new URL("../../public", import.meta.url));

describe("the web build", () => {
	it("writes no source map into public/, and no served file names one", async () => {
		await (buildWeb as () => Promise<void>)();
		const files = readdirSync(publicDir, {
			recursive: true,
			withFileTypes: true,
		}).filter((entry) => entry.isFile());
		expect(files.some((entry) => entry.name === "livechat.js")).toBe(true);
		const maps = files
			.filter((entry) => entry.name.endsWith(".map"))
			.map((entry) => entry.name);
		expect(maps).toEqual([]);
		const naming = files
			.filter((entry) => /\.(js|mjs|css|html)$/.test(entry.name))
			.filter((entry) =>
				/sourceMappingURL=/.test(
					readFileSync(join(entry.parentPath, entry.name), "utf8")
				)
			)
			.map((entry) => entry.name);
		expect(naming).toEqual([]);
	});
});
