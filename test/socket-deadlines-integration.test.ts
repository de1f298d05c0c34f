/** SPEC §6: a socket without a valid hello in 10 s is closed whatever else happens in its room, and so is one whose token expires. */
import { env, runInDurableObject } from "cloudflare:test";
import { sign } from "hono/jwt";
import { describe, expect, it } from "vitest";
import { chatRoom } from "../durable-objects/room-contract.ts";
import { createSite, startChat } from "./helpers.ts";
import { TestSocket } from "./sockets.ts";

const room = (siteId: string, chatId: string) => chatRoom(env, siteId, chatId);

describe("socket deadlines", () => {
	it(
		"closes every socket that never says hello, however they were spread out, and leaves no alarm in the past",
		{ timeout: 30_000 },
		async () => {
			const siteId = await createSite();
			const chat = await startChat(siteId);
			const silent: TestSocket[] = [];
			for (let i = 0; i < 4; i++) {
				silent.push(await TestSocket.open(siteId, chat.chatId));
				await new Promise((r) => setTimeout(r, 700));
			}
			const talking = await TestSocket.hello(siteId, chat.chatId, chat.token);
			const closed = await Promise.all(silent.map((s) => s.closed(14_000)));
			expect(closed).toEqual([4408, 4408, 4408, 4408]); // SPEC §6: no hello within 10 s
			expect(talking.closedWith).toBeUndefined();
			// What is left is the waiting chat's next re-registration with the dispatcher (every 30 s) and the
			// token's expiry a day ahead: never an alarm that already passed.
			const alarm = await runInDurableObject(
				room(siteId, chat.chatId),
				(_instance, state) => state.storage.getAlarm()
			);
			expect(alarm).toBeGreaterThan(Date.now());
		}
	);

	it(
		"closes a socket when its token expires, with 4401",
		{ timeout: 15_000 },
		async () => {
			const siteId = await createSite();
			const chat = await startChat(siteId);
			const claims = JSON.parse(
				atob(
					chat.token.split(".")[1]!.replaceAll("-", "+").replaceAll("_", "/")
				)
			) as Record<string, unknown>;
			const shortLived = await sign(
				{ ...claims, exp: Math.floor(Date.now() / 1000) + 2 },
				env.TOKEN_SECRET,
				"HS256"
			);
			const socket = await TestSocket.hello(siteId, chat.chatId, shortLived);
			expect(await socket.closed(8_000)).toBe(4401);
		}
	);
});
