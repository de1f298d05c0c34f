/** The plain vars: parsed once per env object, and a value that does not parse is its default. */
import { describe, expect, it } from "vitest";
import { envSettings } from "../src/env-settings.ts";

describe("env settings", () => {
	it("are the defaults when nothing is set", () => {
		expect(envSettings({})).toEqual({
			RETRY_BASE_SECONDS: 2,
			DELIVERY_TIMEOUT_MS: 10_000,
			CHAT_STATE: "durable",
			DEBUG_ROUTES: false,
		});
	});

	it("read what is set, and fall back on what does not parse", () => {
		expect(
			envSettings({
				RETRY_BASE_SECONDS: "0",
				DELIVERY_TIMEOUT_MS: "2500",
				CHAT_STATE: "memory",
				DEBUG_ROUTES: "true",
			})
		).toEqual({
			RETRY_BASE_SECONDS: 0,
			DELIVERY_TIMEOUT_MS: 2500,
			CHAT_STATE: "memory",
			DEBUG_ROUTES: true,
		});
		expect(
			envSettings({
				RETRY_BASE_SECONDS: "-1",
				DELIVERY_TIMEOUT_MS: "soon",
				CHAT_STATE: "disk",
				DEBUG_ROUTES: "1",
			})
		).toEqual({
			RETRY_BASE_SECONDS: 2,
			DELIVERY_TIMEOUT_MS: 10_000,
			CHAT_STATE: "durable",
			DEBUG_ROUTES: false,
		});
	});

	it("are parsed once per env object", () => {
		const env = { RETRY_BASE_SECONDS: "3" };
		expect(envSettings(env)).toBe(envSettings(env));
	});
});
