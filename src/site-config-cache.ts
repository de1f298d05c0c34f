import { StoredSiteConfigSchema } from "./protocol/site-config.ts";
import type { SiteConfig } from "./protocol/site-config.ts";

/** Site configuration lives in KV; each isolate keeps what it read for a short while (the "config cache"). */

const TTL_MS = 30_000;
/** Bounded, and misses are not kept: anyone can ask for a site that does not exist. */
const MAX_ENTRIES = 1000;
const cache = new Map<string, { config: SiteConfig; until: number }>();
const key = (siteId: string) => `site:${siteId}`;

export async function getSiteConfig(
	kv: KVNamespace,
	siteId: string
): Promise<SiteConfig | undefined> {
	const hit = cache.get(siteId);
	if (hit && hit.until > Date.now()) return hit.config;
	const stored = await kv.get(key(siteId), "json");
	const parsed =
		stored === null ? undefined : StoredSiteConfigSchema.safeParse(stored);
	const config = parsed?.success ? parsed.data : undefined;
	if (config) remember(siteId, config);
	return config;
}

function remember(siteId: string, config: SiteConfig): void {
	cache.delete(siteId);
	if (cache.size >= MAX_ENTRIES) cache.delete(cache.keys().next().value!);
	cache.set(siteId, { config, until: Date.now() + TTL_MS });
}

export async function putSiteConfig(
	kv: KVNamespace,
	siteId: string,
	config: SiteConfig
): Promise<void> {
	await kv.put(key(siteId), JSON.stringify(config));
	remember(siteId, config);
}
