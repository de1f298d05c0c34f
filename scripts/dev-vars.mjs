// .dev.vars for `npm start`: created from .dev.vars.example when missing, read with Node's own
// dotenv parser (util.parseEnv, Node 20.12+).
import { copyFileSync, existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parseEnv } from "node:util";

/** The admin token of ROOT/.dev.vars, which is created first when missing. */
export function ensureDevVars(root, log) {
	const devVars = join(root, ".dev.vars");
	if (!existsSync(devVars)) {
		copyFileSync(join(root, ".dev.vars.example"), devVars);
		log("created .dev.vars from .dev.vars.example");
	}
	const { ADMIN_TOKEN } = parseEnv(readFileSync(devVars, "utf8"));
	if (!ADMIN_TOKEN) {
		console.error("[start] error: .dev.vars has no ADMIN_TOKEN");
		process.exit(1);
	}
	return ADMIN_TOKEN;
}
