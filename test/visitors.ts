import {
	abortAllDurableObjects,
	env,
	runInDurableObject,
} from "cloudflare:test";
import { expect } from "vitest";
import { dispatcherOf } from "./dispatch.ts";
import { FrameSocket } from "./frame-socket.ts";
import { api, json } from "./helpers.ts";
import type { StartChatResult } from "../src/protocol/chat.ts";
import type {
	VisitorServerFrame,
	VisitorSummary,
	VisitResult,
} from "../src/protocol/visitors.ts";

/** A page view, as the loader reports it; it must be taken. */
export async function visit(
	siteId: string,
	body: Record<string, unknown>
): Promise<VisitResult> {
	const res = await api(`/sites/${siteId}/visits`, {
		method: "POST",
		body: json(body),
	});
	expect(res.status).toBe(200);
	return res.json<VisitResult>();
}

/** The visitors list an agent sees. */
export async function trackedList(
	siteId: string,
	token: string
): Promise<VisitorSummary[]> {
	const res = await api(`/sites/${siteId}/visitors`, { token });
	expect(res.status).toBe(200);
	return (await res.json<{ visitors: VisitorSummary[] }>()).visitors;
}

/** A visitor's page socket after a hello that was taken. */
export async function pageSocket(
	siteId: string,
	visitorState: string,
	page?: Record<string, string>
) {
	const socket = await FrameSocket.open<VisitorServerFrame>(
		`/sites/${siteId}/visitors/me/ws`
	);
	socket.send({ type: "hello", visitorState, ...page });
	await socket.next((f) => f.type === "tracking");
	return socket;
}

/** A chat started by a tracked visitor. */
export async function startWith(siteId: string, visitorState: string) {
	const res = await api(`/sites/${siteId}/chats`, {
		method: "POST",
		body: json({ visitor: { name: "Vera" }, visitorState }),
	});
	return {
		status: res.status,
		body: await res.json<StartChatResult & { error?: { type: string } }>(),
	};
}

/** An agent's action on a visitor: `invite` or `ban`. */
export const onVisitor =
	(action: "invite" | "ban") =>
	(siteId: string, visitorId: string, token: string, body: unknown) =>
		api(`/sites/${siteId}/visitors/${visitorId}/${action}`, {
			method: "POST",
			token,
			body: typeof body === "string" ? body : json(body),
		});
export const invite = onVisitor("invite");
export const ban = onVisitor("ban");

/** The dispatcher forgets everything: memory mode by eviction, durable mode by losing its storage too. */
export async function loseDispatcher(siteId: string): Promise<void> {
	if (env.CHAT_STATE === "durable")
		await runInDurableObject(dispatcherOf(siteId), (_instance, state) =>
			state.storage.deleteAll()
		);
	await abortAllDurableObjects();
}
