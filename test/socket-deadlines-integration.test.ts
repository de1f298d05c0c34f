/**
 * SPEC §6: a socket without a valid hello in 10 s is closed whatever else happens in its room, and so is
 * one whose token expires. Time is driven (test/room-clock.ts): the room's clock is moved on and its alarm
 * run by hand, so the verdict does not depend on how long the machine takes.
 */
import { env } from "cloudflare:test";
import { sign } from "hono/jwt";
import { describe, expect, it } from "vitest";
import { createSite, startChat } from "./helpers.ts";
import {
	passRoomTime,
	roomAlarm,
	roomOf,
	stopRoomClock,
} from "./room-clock.ts";
import { TestSocket } from "./sockets.ts";

describe("socket deadlines", () => {
	it("closes every socket that never says hello at its own 10 s, however they were spread out, and leaves no alarm in the past", async () => {
		const siteId = await createSite();
		const chat = await startChat(siteId);
		const room = roomOf(siteId, chat.chatId);
		const start = Date.now();
		const silent: TestSocket[] = [];
		for (let i = 0; i < 4; i++) {
			await stopRoomClock(room, start + i * 700);
			silent.push(await TestSocket.open(siteId, chat.chatId));
		}
		const talking = await TestSocket.hello(siteId, chat.chatId, chat.token);
		const open = () => silent.map((s) => s.closedWith === undefined).join(",");
		// Each deadline in turn: the alarm comes back for the next one, never for one already passed.
		for (let i = 0; i < 4; i++) {
			await passRoomTime(room, start + i * 700 + 9_999);
			expect(open()).toBe([0, 1, 2, 3].map((j) => String(j >= i)).join(","));
			await passRoomTime(room, start + i * 700 + 10_000);
			expect(await silent[i]!.closed()).toBe(4408); // SPEC §6: no hello within 10 s
			expect(open()).toBe([0, 1, 2, 3].map((j) => String(j > i)).join(","));
		}
		expect(talking.closedWith).toBeUndefined();
		// What is left is the waiting chat's next re-registration with the dispatcher (every 30 s) and the
		// token's expiry a day ahead: never an alarm that already passed.
		expect(await roomAlarm(room)).toBeGreaterThan(start + 3 * 700 + 10_000);
	});

	it("closes a silent socket at 10 s while the waiting chat's re-registration is what the room's alarm waits for", async () => {
		const siteId = await createSite();
		const chat = await startChat(siteId);
		expect(chat.status).toBe("waiting");
		// The room's alarm is set for the chat's re-registration with the dispatcher, 30 s ahead.
		const room = roomOf(siteId, chat.chatId);
		const talking = await TestSocket.hello(siteId, chat.chatId, chat.token);
		const opened = Date.now();
		await stopRoomClock(room, opened);
		const silent = await TestSocket.open(siteId, chat.chatId);
		await passRoomTime(room, opened + 9_999);
		expect(silent.closedWith).toBeUndefined();
		await passRoomTime(room, opened + 10_000);
		expect(await silent.closed()).toBe(4408);
		expect(talking.closedWith).toBeUndefined();
		// The chat still waits: its re-registration is still to come.
		expect(await roomAlarm(room)).toBeGreaterThan(opened + 10_000);
	});

	it("closes a socket when its token expires, with 4401, not before", async () => {
		const siteId = await createSite();
		const chat = await startChat(siteId);
		const claims = JSON.parse(
			atob(chat.token.split(".")[1]!.replaceAll("-", "+").replaceAll("_", "/"))
		) as Record<string, unknown>;
		const exp = Math.floor(Date.now() / 1000) + 60;
		const shortLived = await sign(
			{ ...claims, exp },
			env.TOKEN_SECRET,
			"HS256"
		);
		const socket = await TestSocket.hello(siteId, chat.chatId, shortLived);
		const room = roomOf(siteId, chat.chatId);
		await passRoomTime(room, exp * 1000 - 1);
		expect(socket.closedWith).toBeUndefined();
		await passRoomTime(room, exp * 1000);
		expect(await socket.closed()).toBe(4401);
	});
});
