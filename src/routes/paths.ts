/** The API's paths (SPEC §4), in OpenAPI's spelling; src/openapi.ts gives each parameter its pattern. */
import { pathParams } from "../openapi.ts";

export const SITE = "/sites/{siteId}";
export const CHAT = `${SITE}/chats/{chatId}`;
export const SiteParams = pathParams("siteId");
export const ChatParams = pathParams("siteId", "chatId");
