/**
 * A whole local deployment (`node scripts/start.mjs`: wrangler dev with its own state folder),
 * as the failover tests and the benchmark need them: started, stopped, started again.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";

export interface LocalDeployment {
	url: string;
	stop(): Promise<void>;
}

const root = fileURLToPath(new URL("..", import.meta.url));

export async function startLocalDeployment(options: {
	port: number;
	stateDir: string;
	chatState?: "durable" | "memory";
	timeoutMs?: number;
	/** Key vars instead of .dev.vars' (KEY_ID, PREVIOUS_KEYS, TOKEN_SECRET, CHAT_SIGNING_KEY, STATE_SEALING_KEY): a deployment on other or rotated keys. */
	keys?: Record<string, string>;
}): Promise<LocalDeployment> {
	const child = spawn(process.execPath, ["scripts/start.mjs"], {
		cwd: root,
		detached: true, // its own process group, so stop() takes wrangler and workerd with it
		stdio: ["ignore", "pipe", "pipe"],
		env: { ...process.env, PORT: String(options.port), STATE_DIR: options.stateDir, CHAT_STATE: options.chatState ?? "durable", ...options.keys },
	});
	let output = "";
	const collect = (chunk: Buffer) => {
		output = (output + chunk.toString()).slice(-20_000);
	};
	child.stdout!.on("data", collect);
	child.stderr!.on("data", collect);
	await new Promise<void>((resolve, reject) => {
		const timer = setTimeout(() => fail(new Error("did not become ready in time")), options.timeoutMs ?? 90_000);
		const fail = (error: Error) => {
			clearTimeout(timer);
			killGroup(child, "SIGKILL");
			reject(new Error(`deployment on port ${options.port}: ${error.message}\n${output}`));
		};
		const onExit = (code: number | null) => fail(new Error(`exited with ${code}`));
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
	};
}

async function stop(child: ChildProcess): Promise<void> {
	if (child.exitCode !== null || child.signalCode !== null) return;
	const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
	killGroup(child, "SIGTERM");
	const timer = setTimeout(() => killGroup(child, "SIGKILL"), 15_000);
	await exited;
	clearTimeout(timer);
	killGroup(child, "SIGKILL"); // anything left in the group
}

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
	try {
		process.kill(-child.pid!, signal);
	} catch {
		// already gone
	}
}
