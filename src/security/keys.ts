/**
 * The key ring (SPEC §6, key rotation): `KEY_ID` names the current keys, which sign, seal and
 * verify; `PREVIOUS_KEYS` (JSON `{"<kid>": {TOKEN_SECRET, CHAT_SIGNING_KEY, STATE_SEALING_KEY}}`)
 * lists retired ones that still verify tokens and macs and open sealed state. Read from env once per
 * isolate: the chat path asks for it on every call, so it must cost a few string compares.
 */
import { z } from "zod";

export interface KeySet {
	kid: string;
	tokenSecret: string;
	signingKey: string;
	sealingKey: string;
}

export interface KeyRing {
	/** Signs tokens and macs and seals state. */
	current: KeySet;
	/** Every kid that verifies, the current one included. */
	byKid: ReadonlyMap<string, KeySet>;
}

export type KeyEnv = Pick<
	Env,
	"KEY_ID" | "TOKEN_SECRET" | "CHAT_SIGNING_KEY" | "STATE_SEALING_KEY"
> & { PREVIOUS_KEYS?: string };

/** A kid is a prefix of macs and sealed blobs, which are split on ".". */
const KidSchema = z
	.string()
	.regex(/^[A-Za-z0-9_-]{1,32}$/, "a kid is 1 to 32 letters, digits, - or _");
const SecretSchema = z.string().min(16, "a secret has at least 16 characters");
const PreviousKeysSchema = z.record(
	KidSchema,
	z.strictObject({
		TOKEN_SECRET: SecretSchema,
		CHAT_SIGNING_KEY: SecretSchema,
		STATE_SEALING_KEY: SecretSchema,
	})
);

let cached:
	{ sources: readonly (string | undefined)[]; ring: KeyRing } | undefined;

export function keyRing(env: KeyEnv): KeyRing {
	const sources = [
		env.KEY_ID,
		env.TOKEN_SECRET,
		env.CHAT_SIGNING_KEY,
		env.STATE_SEALING_KEY,
		env.PREVIOUS_KEYS,
	];
	if (cached && cached.sources.every((s, i) => s === sources[i]))
		return cached.ring;
	const ring = buildKeyRing(env);
	cached = { sources, ring };
	return ring;
}

/**
 * Misconfigured keys throw (every request then fails loudly) rather than being skipped: a skipped
 * PREVIOUS_KEYS would quietly lock out every client holding a token, mac or state of a retired key.
 * Messages name the variable, never a secret.
 */
function buildKeyRing(env: KeyEnv): KeyRing {
	const kid = KidSchema.safeParse(env.KEY_ID);
	if (!kid.success) throw new Error(`KEY_ID: ${kid.error.issues[0]?.message}`);
	for (const name of [
		"TOKEN_SECRET",
		"CHAT_SIGNING_KEY",
		"STATE_SEALING_KEY",
	] as const) {
		if (!env[name]) throw new Error(`${name} is not set`);
	}
	const current: KeySet = {
		kid: kid.data,
		tokenSecret: env.TOKEN_SECRET,
		signingKey: env.CHAT_SIGNING_KEY,
		sealingKey: env.STATE_SEALING_KEY,
	};
	const byKid = new Map<string, KeySet>();
	for (const [previousKid, keys] of Object.entries(
		parsePreviousKeys(env.PREVIOUS_KEYS)
	)) {
		byKid.set(previousKid, {
			kid: previousKid,
			tokenSecret: keys.TOKEN_SECRET,
			signingKey: keys.CHAT_SIGNING_KEY,
			sealingKey: keys.STATE_SEALING_KEY,
		});
	}
	// The current keys win over a retired entry of the same kid.
	byKid.set(current.kid, current);
	return { current, byKid };
}

function parsePreviousKeys(
	raw: string | undefined
): z.infer<typeof PreviousKeysSchema> {
	if (raw === undefined || raw.trim() === "") return {};
	let json: unknown;
	try {
		json = JSON.parse(raw);
	} catch {
		throw new Error("PREVIOUS_KEYS is not valid JSON");
	}
	const parsed = PreviousKeysSchema.safeParse(json);
	if (!parsed.success) {
		const issue = parsed.error.issues[0];
		throw new Error(
			`PREVIOUS_KEYS${issue?.path.map((p) => `[${JSON.stringify(String(p))}]`).join("") ?? ""}: ${issue?.message}`
		);
	}
	return parsed.data;
}

/** The keys of a kid; a missing kid (tokens and macs from before rotation existed) means KEY_ID. */
export function keysOf(
	ring: KeyRing,
	kid: string | undefined
): KeySet | undefined {
	return kid === undefined ? ring.current : ring.byKid.get(kid);
}
