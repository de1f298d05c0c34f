import { execFileSync, spawn } from "node:child_process";
import { appendFileSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { ChildProcess } from "node:child_process";

/**
 * A whole local deployment (`node scripts/start.mjs`: wrangler dev with its own state folder),
 * as the failover tests and the benchmark need them: started, stopped, started again.
 */

export interface LocalDeployment {
	url: string;
	stop(): Promise<void>;
	/** kill -9 of every process of the deployment (start.mjs, wrangler's own process group, workerd): a crash. */
	crash(): Promise<void>;
}

const root = fileURLToPath(new URL("..", import.meta.url));

export async function startLocalDeployment(options: {
	port: number;
	stateDir: string;
	chatState?: "durable" | "memory";
	timeoutMs?: number;
	/** Key vars instead of .dev.vars' (KEY_ID, PREVIOUS_KEYS, TOKEN_SECRET, CHAT_SIGNING_KEY, STATE_SEALING_KEY): a deployment on other or rotated keys. */
	keys?: Record<string, string>;
	/** The chaos run's debug routes (src/routes/debug.ts); off unless asked for. */
	debugRoutes?: boolean;
	/** Where to append everything the deployment prints (the chaos run keeps it beside its traces). */
	logFile?: string;
	/** wrangler dev's DevTools inspector port (bench/profile.ts); any free port otherwise. */
	inspectorPort?: number;
}): Promise<LocalDeployment> {
	const child = spawn(process.execPath, ["scripts/start.mjs"], {
		cwd: root,
		detached: true, // its own process group, so stop() takes wrangler and workerd with it
		stdio: ["ignore", "pipe", "pipe"],
		env: {
			...process.env,
			PORT: String(options.port),
			STATE_DIR: options.stateDir,
			CHAT_STATE: options.chatState ?? "durable",
			...options.keys,
			DEBUG_ROUTES: options.debugRoutes ? "1" : "0",
			INSPECTOR_PORT: String(options.inspectorPort ?? 0),
		},
	});
	let output = "";
	const collect = (chunk: Buffer) => {
		output = (output + chunk.toString()).slice(-20_000);
		if (options.logFile) appendFileSync(options.logFile, chunk);
	};
	child.stdout!.on("data", collect);
	child.stderr!.on("data", collect);
	await new Promise<void>((resolve, reject) => {
		const timer = setTimeout(
			() => fail(new Error("did not become ready in time")),
			options.timeoutMs ?? 90_000
		);
		const fail = (error: Error) => {
			clearTimeout(timer);
			killGroup(child, "SIGKILL");
			reject(
				new Error(
					`deployment on port ${options.port}: ${error.message}\n${output}`
				)
			);
		};
		const onExit = (code: number | null) =>
			fail(new Error(`exited with ${code}`));
		const onData = () => {
			if (!output.includes("Edge Live Chat ready on")) return;
			clearTimeout(timer);
			child.off("exit", onExit);
			child.stdout!.off("data", onData);
			resolve();
		};
		child.once("exit", onExit);
		child.stdout!.on("data", onData);
	});
	return {
		url: `http://127.0.0.1:${options.port}`,
		stop: () => stop(child),
		crash: () => crash(child),
	};
}

async function stop(child: ChildProcess): Promise<void> {
	if (child.exitCode !== null || child.signalCode !== null) return;
	const exited = new Promise<void>((resolve) =>
		child.once("exit", () => resolve())
	);
	killGroup(child, "SIGTERM");
	const timer = setTimeout(() => killGroup(child, "SIGKILL"), 15_000);
	await exited;
	clearTimeout(timer);
	killGroup(child, "SIGKILL"); // anything left in the group
}

async function crash(child: ChildProcess): Promise<void> {
	if (child.exitCode !== null || child.signalCode !== null) return;
	const exited = new Promise<void>((resolve) =>
		child.once("exit", () => resolve())
	);
	const pids = descendants(child.pid!);
	for (const pgid of new Set(pids.map((p) => p.pgid))) {
		try {
			process.kill(-pgid, "SIGKILL");
		} catch {
			// already gone
		}
	}
	await exited;
	// Gone for good, so that a restart finds its port free.
	for (
		const deadline = Date.now() + 10_000;
		pids.some((p) => alive(p.pid)) && Date.now() < deadline;
	)
		await new Promise((r) => setTimeout(r, 50));
}

/** The process and everything under it, with their process groups (start.mjs starts wrangler detached). */
function descendants(root: number): { pid: number; pgid: number }[] {
	const rows = execFileSync("ps", ["-e", "-o", "pid=,ppid=,pgid="], {
		encoding: "utf8",
	})
		.trim()
		.split("\n")
		.map(
			(line) => line.trim().split(/\s+/).map(Number) as [number, number, number]
		);
	const found = [root];
	for (let i = 0; i < found.length; i++)
		for (const [pid, ppid] of rows) if (ppid === found[i]) found.push(pid);
	return rows
		.filter(([pid]) => found.includes(pid))
		.map(([pid, , pgid]) => ({ pid, pgid }));
}

/** Running, not a zombie that nobody has reaped yet. */
function alive(pid: number): boolean {
	try {
		return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
	} catch {
		return false;
	}
}

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
	try {
		process.kill(-child.pid!, signal);
	} catch {
		// already gone
	}
}
