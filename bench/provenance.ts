/** Where a report's figures come from: the commit, and whether the tree had uncommitted changes. */
import { execSync } from "node:child_process";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));

/** "abc1234", or "abc1234 (with uncommitted changes)". */
export function describeCommit(): string {
	const commit = execSync("git rev-parse --short HEAD", { cwd: root })
		.toString()
		.trim();
	const dirty = execSync("git status --porcelain --untracked-files=no", {
		cwd: root,
	})
		.toString()
		.trim()
		? " (with uncommitted changes)"
		: "";
	return `${commit}${dirty}`;
}
