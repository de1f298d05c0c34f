#!/usr/bin/env node
// `npm start`: run Edge Live Chat locally (SPEC §12), idempotently.
//
//   1. create .dev.vars from .dev.vars.example when missing; read ADMIN_TOKEN from it (dev-vars.mjs)
//   2. apply D1 migrations into STATE_DIR (never prompts: stdin is not a TTY)
//   3. start `wrangler dev` in its own process group (signals are forwarded)
//   4. wait for it to answer, then seed site `demo` (canned messages, wrap-up categories), agents
//      `agent@demo.local` and `agent2@demo.local` and supervisor `supervisor@demo.local` (seed-demo.mjs)
//
// Environment: PORT (8787), STATE_DIR (.wrangler/state), CHAT_STATE (durable | memory),
// KEY_ID, PREVIOUS_KEYS, TOKEN_SECRET, CHAT_SIGNING_KEY, STATE_SEALING_KEY (override .dev.vars),
// DEBUG_ROUTES (1: the chaos run's eviction route, local only), INSPECTOR_PORT (0: any free port).
// Plain Node ESM, built-ins only.
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { createServer } from "node:net";
import { constants as osConstants } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { buildWeb } from "./build-web.mjs";
import { ensureDevVars } from "./dev-vars.mjs";
import { adminApi, seed, waitUntilUp } from "./seed-demo.mjs";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const WRANGLER = join(ROOT, "node_modules", "wrangler", "bin", "wrangler.js");
const STOP_GRACE_MS = 10_000;

const log = (msg) => console.log(`[start] ${msg}`);
function die(msg, code = 1) {
	console.error(`[start] error: ${msg}`);
	stopChild();
	process.exitCode = code;
	if (!current) process.exit(code);
	// otherwise we exit when the child has gone (see runChild's "exit" handler)
}

// ---------------------------------------------------------------- config

const PORT = parsePort(process.env.PORT);
const STATE_DIR = process.env.STATE_DIR?.trim() || ".wrangler/state";
const CHAT_STATE = process.env.CHAT_STATE?.trim() || "durable";
// Key rotation (SPEC §6): any of these set in the environment overrides .dev.vars for this deployment.
const KEY_VARS = [
	"KEY_ID",
	"PREVIOUS_KEYS",
	"TOKEN_SECRET",
	"CHAT_SIGNING_KEY",
	"STATE_SEALING_KEY",
].filter((name) => process.env[name]);
// Local fault injection for the chaos run (src/routes/debug.ts): only ever turned on from here.
const DEBUG_ROUTES = process.env.DEBUG_ROUTES === "1";
if (CHAT_STATE !== "durable" && CHAT_STATE !== "memory") {
	console.error(
		`[start] error: CHAT_STATE must be "durable" or "memory" (got ${JSON.stringify(process.env.CHAT_STATE)})`
	);
	process.exit(2);
}

function parsePort(raw) {
	if (raw === undefined || raw.trim() === "") return 8787;
	const n = Number(raw);
	if (!Number.isInteger(n) || n < 1 || n > 65535) {
		console.error(
			`[start] error: PORT must be an integer between 1 and 65535 (got ${JSON.stringify(raw)})`
		);
		process.exit(2);
	}
	return n;
}

const childEnv = {
	...process.env,
	WRANGLER_SEND_METRICS: "false",
	WRANGLER_SEND_ERROR_REPORTS: "false",
	// Don't fetch https://workers.cloudflare.com/cf.json (miniflare's Request.cf data);
	// use miniflare's built-in placeholder instead: no network, no offline warning.
	CLOUDFLARE_CF_FETCH_ENABLED: "false",
};

// ---------------------------------------------------------------- child processes

/** The wrangler process currently running (migrations, then dev), if any. */
let current = null;
let stopping = false;

/**
 * Runs wrangler in its own process group (detached) so that we decide how it stops:
 * signals go to the whole group, which includes wrangler's node re-spawn and workerd.
 * stdin is /dev/null: wrangler never prompts and never grabs the terminal.
 */
function runWrangler(args, { onExit }) {
	const child = spawn(process.execPath, [WRANGLER, ...args], {
		cwd: ROOT,
		env: childEnv,
		stdio: ["ignore", "inherit", "inherit"],
		detached: true,
	});
	current = child;
	child.on("error", (err) => {
		current = null;
		die(`could not run wrangler: ${err.message}`);
	});
	child.on("exit", (code, signal) => {
		if (current === child) current = null;
		clearTimeout(killTimer);
		// Make sure nothing of the group outlives its leader (e.g. workerd).
		signalGroup(child, "SIGKILL");
		const status = code ?? 128 + (osConstants.signals[signal] ?? 1);
		onExit(status, signal);
	});
	return child;
}

function signalGroup(child, signal) {
	try {
		process.kill(-child.pid, signal);
	} catch {
		// group already gone
	}
}

let killTimer;
function stopChild(signal = "SIGTERM") {
	if (!current) return;
	stopping = true;
	signalGroup(current, signal);
	clearTimeout(killTimer);
	const child = current;
	killTimer = setTimeout(() => {
		console.error(
			`[start] wrangler did not stop within ${STOP_GRACE_MS / 1000}s; killing it`
		);
		signalGroup(child, "SIGKILL");
	}, STOP_GRACE_MS);
}

for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"]) {
	process.on(sig, () => {
		if (!current) process.exit(128 + osConstants.signals[sig]);
		if (!stopping) log(`${sig} received; stopping wrangler`);
		stopChild(sig);
	});
}

// `kill -TERM <npm pid>` makes npm exit and kills its `sh -c` without passing the signal on to us,
// which would leave wrangler running: treat losing our parent like a SIGHUP.
const originalParent = process.ppid;
if (originalParent > 1) {
	setInterval(() => {
		if (process.ppid === originalParent || stopping) return;
		log("parent process went away; stopping wrangler");
		if (!current) process.exit(129);
		stopChild("SIGTERM");
	}, 500).unref();
}

// ---------------------------------------------------------------- steps

function checkPortFree() {
	return new Promise((resolveP) => {
		const srv = createServer();
		srv.once("error", (err) =>
			resolveP(err.code === "EADDRINUSE" ? false : true)
		);
		srv.listen({ port: PORT, host: "127.0.0.1", exclusive: true }, () =>
			srv.close(() => resolveP(true))
		);
	});
}

function applyMigrations() {
	log(`applying D1 migrations (state in ${STATE_DIR})`);
	return new Promise((resolveP) => {
		runWrangler(
			["d1", "migrations", "apply", "DB", "--local", "--persist-to", STATE_DIR],
			{
				onExit(status) {
					if (stopping) process.exit(status);
					if (status !== 0) {
						console.error(
							`[start] error: wrangler d1 migrations apply failed (exit ${status})`
						);
						process.exit(status);
					}
					resolveP();
				},
			}
		);
	});
}

function startDev() {
	log(`starting wrangler dev on port ${PORT} (CHAT_STATE=${CHAT_STATE})`);
	runWrangler(
		[
			"dev",
			"--local",
			"--ip",
			"127.0.0.1",
			"--port",
			String(PORT),
			"--inspector-port",
			// Any free port unless asked (bench/profile.ts): concurrent instances must not race for 9229.
			process.env.INSPECTOR_PORT?.trim() || "0",
			"--persist-to",
			STATE_DIR,
			"--var",
			`CHAT_STATE:${CHAT_STATE}`,
			...KEY_VARS.flatMap((name) => ["--var", `${name}:${process.env[name]}`]),
			...(DEBUG_ROUTES ? ["--var", "DEBUG_ROUTES:true"] : []),
			"--show-interactive-dev-session=false",
		],
		{
			onExit(status, signal) {
				if (!stopping)
					console.error(
						`[start] wrangler dev exited unexpectedly (${signal ?? `exit ${status}`})`
					);
				process.exit(process.exitCode || status);
			},
		}
	);
}

// ---------------------------------------------------------------- main

const startedAt = Date.now();
const adminToken = ensureDevVars(ROOT, log);
if (!existsSync(WRANGLER)) {
	console.error(
		"[start] error: wrangler is not installed; run `npm install` first"
	);
	process.exit(1);
}
if (!(await checkPortFree())) {
	console.error(
		`[start] error: port ${PORT} is already in use (another \`npm start\`?); set PORT to use another one`
	);
	process.exit(1);
}
await buildWeb();
await applyMigrations();
startDev();
try {
	const api = adminApi(PORT, adminToken);
	const probe = await waitUntilUp(api, PORT, () => !stopping && !!current);
	if (probe) {
		await seed(api, probe, log);
		const secs = ((Date.now() - startedAt) / 1000).toFixed(1);
		console.log(
			`Edge Live Chat ready on http://localhost:${PORT} (CHAT_STATE=${CHAT_STATE}, state in ${STATE_DIR}) after ${secs}s`
		);
	}
} catch (err) {
	die(`seeding failed: ${err.message}`);
}
