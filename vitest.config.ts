import {
	cloudflareTest,
	readD1Migrations,
} from "@cloudflare/vitest-pool-workers";
import { defineConfig } from "vitest/config";

/**
 * Fixed test secrets: .dev.vars is created by `npm start` and is not in a clean checkout. The suite
 * runs on rotated keys (SPEC §6): "test-k2" is current and "test-k1" retired, so that tests can make
 * tokens, macs and sealed state under a retired key and see them still accepted.
 */
const testSecrets = {
	KEY_ID: "test-k2",
	TOKEN_SECRET: "test-token-secret-0123456789abcdef0123456789",
	CHAT_SIGNING_KEY: "test-chat-signing-key-0123456789abcdef01234",
	STATE_SEALING_KEY: "test-state-sealing-key-0123456789abcdef0123",
	PREVIOUS_KEYS: JSON.stringify({
		"test-k1": {
			TOKEN_SECRET: "test-retired-token-secret-0123456789abcdef",
			CHAT_SIGNING_KEY: "test-retired-chat-signing-key-0123456789ab",
			STATE_SEALING_KEY: "test-retired-state-sealing-key-0123456789a",
		},
	}),
	ADMIN_TOKEN: "test-admin-token",
};

/** The same protocol suite runs against both storage modes (SPEC §3). */
const workersProject = async (chatState: "durable" | "memory") => ({
	plugins: [
		cloudflareTest({
			wrangler: { configPath: "./wrangler.toml" },
			miniflare: {
				// Retries at once: the backoff itself is checked on its own; tests wait on the queues, not on timers.
				bindings: {
					...testSecrets,
					CHAT_STATE: chatState,
					RETRY_BASE_SECONDS: "0",
					TEST_MIGRATIONS: await readD1Migrations("./migrations"),
				},
			},
		}),
	],
	test: {
		name: chatState,
		// The queue tests run once: the consumers do not depend on the chat storage mode.
		include: [
			"test/*.test.ts",
			`test/${chatState}-mode/**/*.test.ts`,
			...(chatState === "durable" ? ["test/queues/**/*.test.ts"] : []),
		],
		// Tests wait for what they need (test/waiting.ts), never for a set time; on a loaded machine a test
		// with many steps takes longer than vitest's 5 s default without anything being wrong.
		testTimeout: 60_000,
		setupFiles: ["./test/apply-migrations.ts"],
		globalSetup: ["./test/receiver-setup.ts"],
	},
});

export default defineConfig({
	test: {
		projects: [
			await workersProject("durable"),
			await workersProject("memory"),
			// One file at a time: each starts real deployments (two wrangler processes apiece) on a two-core machine.
			{
				test: {
					name: "node",
					include: ["test/node/**/*.test.ts"],
					environment: "node",
					fileParallelism: false,
					testTimeout: 120_000,
					hookTimeout: 120_000,
				},
			},
			// A real Chromium against a real local deployment (test/browser/harness.ts); one file at a time too.
			{
				test: {
					name: "browser",
					include: ["test/browser/**/*.test.ts"],
					environment: "node",
					fileParallelism: false,
					testTimeout: 120_000,
					hookTimeout: 120_000,
				},
			},
		],
	},
});
