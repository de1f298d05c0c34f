/** Site configuration lives in KV; each isolate keeps what it read for a short while (the "config cache"). */
import { KvCache } from "./kv-cache.ts";
import { StoredSiteConfigSchema } from "./protocol/site-config.ts";
import type { SiteConfig } from "./protocol/site-config.ts";

/** 30 s, 1000 sites; misses are not kept: anyone can ask for a site that does not exist. */
const cache = new KvCache<SiteConfig>("site:", 30_000, 1000);

export async function getSiteConfig(
	kv: KVNamespace,
	siteId: string
): Promise<SiteConfig | undefined> {
	const hit = cache.get(siteId);
	if (hit) return hit;
	const stored = await kv.get(cache.key(siteId), "json");
	const parsed =
		stored === null ? undefined : StoredSiteConfigSchema.safeParse(stored);
	const config = parsed?.success ? parsed.data : undefined;
	if (config) cache.set(siteId, config);
	return config;
}

export async function putSiteConfig(
	kv: KVNamespace,
	siteId: string,
	config: SiteConfig
): Promise<void> {
	await cache.put(kv, siteId, config);
}
