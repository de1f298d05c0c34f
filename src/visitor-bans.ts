/** SPEC §7 at the Worker: a returning visitor's chat start is refused while the visitor is banned. */
import { siteDispatcher } from "../durable-objects/room-contract.ts";
import { ApiError } from "./errors.ts";

export async function refuseBanned(
	env: Env,
	siteId: string,
	visitorId: string
): Promise<void> {
	const ban = await siteDispatcher(env, siteId).visitorBan(siteId, visitorId);
	if (ban) throw new ApiError(403, "banned", "you may not chat on this site");
}
