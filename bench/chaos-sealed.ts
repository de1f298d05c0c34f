/**
 * The chaos run reads the rooms' word on a chat's agents from the sealed chatStates the clients are
 * handed (SPEC §6): it runs beside the deployments with the same local keys (.dev.vars, KEY_ID from
 * wrangler.toml). The opening follows src/security/sealed-state.ts, which the Node build cannot import
 * (its key ring is typed on the Worker's Env); a chatState this cannot open is reported, so a change
 * of the format is noticed rather than taken for a clean run.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseEnv } from "node:util";
import { ChatMetaSchema } from "../src/protocol/chat-state.ts";
import { fromBase64url, utf8 } from "../src/security/encoding.ts";
import type { ChatMeta } from "../src/protocol/chat-state.ts";

const root = fileURLToPath(new URL("..", import.meta.url));

/** Opens a chat's sealed state; undefined when it does not open under the local keys. */
export type StateOpener = (
	siteId: string,
	chatId: string,
	sealed: string
) => Promise<ChatMeta | undefined>;

export function localStateOpener(): StateOpener {
	const vars = parseEnv(readFileSync(join(root, ".dev.vars"), "utf8"));
	const kid = /^\s*KEY_ID\s*=\s*"([^"]+)"/m.exec(
		readFileSync(join(root, "wrangler.toml"), "utf8")
	)?.[1];
	const secrets = new Map<string, string>();
	for (const [previousKid, keys] of Object.entries(
		JSON.parse(vars.PREVIOUS_KEYS?.trim() || "{}") as Record<
			string,
			{ STATE_SEALING_KEY: string }
		>
	))
		secrets.set(previousKid, keys.STATE_SEALING_KEY);
	if (kid && vars.STATE_SEALING_KEY) secrets.set(kid, vars.STATE_SEALING_KEY);
	const keys = new Map<string, Promise<CryptoKey>>();
	const keyFor = (secret: string, siteId: string) => {
		const cacheKey = `${secret}\u0000${siteId}`;
		let key = keys.get(cacheKey);
		if (!key) {
			key = crypto.subtle
				.importKey("raw", utf8.encode(secret), "HKDF", false, ["deriveKey"])
				.then((base) =>
					crypto.subtle.deriveKey(
						{
							name: "HKDF",
							hash: "SHA-256",
							salt: utf8.encode("edge-live-chat/sealed-state"),
							info: utf8.encode(siteId),
						},
						base,
						{ name: "AES-GCM", length: 256 },
						false,
						["decrypt"]
					)
				);
			keys.set(cacheKey, key);
		}
		return key;
	};
	return async (siteId, chatId, sealed) => {
		const [format, blobKid, iv, ciphertext, extra] = sealed.split(".");
		const secret = blobKid ? secrets.get(blobKid) : undefined;
		if (format !== "s1" || !secret || !iv || !ciphertext || extra !== undefined)
			return undefined;
		try {
			const plain = await crypto.subtle.decrypt(
				{
					name: "AES-GCM",
					iv: fromBase64url(iv),
					additionalData: utf8.encode(chatId),
				},
				await keyFor(secret, siteId),
				fromBase64url(ciphertext)
			);
			return ChatMetaSchema.safeParse(
				JSON.parse(new TextDecoder().decode(plain))
			).data;
		} catch {
			return undefined;
		}
	};
}
