import { env } from "cloudflare:test";
import { expect } from "vitest";
import { siteDispatcher } from "../durable-objects/room-contract.ts";
import { api, eventually, json } from "./helpers.ts";
import type { QueueEntry } from "../src/protocol/dispatch.ts";

export const dispatcherOf = (siteId: string) => siteDispatcher(env, siteId);

/** An agent sets its presence (SPEC §7). */
export const setStatus = (siteId: string, token: string, status: string) =>
	api(`/sites/${siteId}/agents/me/status`, {
		method: "PUT",
		token,
		body: json({ status }),
	});

/** An agent's presence, taken. */
export async function online(
	siteId: string,
	token: string,
	status: "online" | "away" | "offline" = "online"
) {
	expect((await setStatus(siteId, token, status)).status).toBe(200);
}

/** The chats the dispatcher has given this agent. */
export async function myChats(
	siteId: string,
	token: string
): Promise<string[]> {
	const res = await api(`/sites/${siteId}/agents/me/chats`, { token });
	expect(res.status).toBe(200);
	return (await res.json<{ chats: { chatId: string }[] }>()).chats.map(
		(c) => c.chatId
	);
}

/** The agent's chats once it has `count` of them (routing happens just after the answer). */
export const routedTo = (siteId: string, token: string, count: number) =>
	eventually(
		() => myChats(siteId, token),
		(c) => c.length === count
	);

/** The site's waiting chats, as an agent sees them. */
export async function queue(
	siteId: string,
	token: string
): Promise<QueueEntry[]> {
	const res = await api(`/sites/${siteId}/queue`, { token });
	expect(res.status).toBe(200);
	return (await res.json<{ waiting: QueueEntry[] }>()).waiting;
}
