/**
 * Time in a chat's room, driven by the test rather than waited for: the room's clock
 * (durable-objects/clock.ts) stops where the test says, and the room's alarm runs by hand when it is
 * due by then. What the room does then depends on the time the test gave it, not on the machine's speed.
 */
import {
	env,
	runDurableObjectAlarm,
	runInDurableObject,
} from "cloudflare:test";
import { chatRoom } from "../durable-objects/room-contract.ts";

type Room = ReturnType<typeof chatRoom>;

export const roomOf = (siteId: string, chatId: string): Room =>
	chatRoom(env, siteId, chatId);

/** The room's time stands still at `at` (now by default) until the test moves it. */
export function stopRoomClock(room: Room, at = Date.now()): Promise<void> {
	return runInDurableObject(room, (instance) => instance.clock.stop(at));
}

/**
 * Time passes in the room until `at`: its clock reads `at`, and its alarm runs if the runtime would have
 * run it by then: due by `at`, or already due by the wall clock (an alarm the room set while its clock stood
 * still comes at least 100 ms after the wall clock's now). What a test asserts is what the room did with the
 * time it was given (which sockets it closed), not when the runtime happened to fire.
 */
export async function passRoomTime(room: Room, at: number): Promise<void> {
	const due = await runInDurableObject(room, (instance, state) => {
		instance.clock.stop(at);
		return state.storage.getAlarm();
	});
	if (due !== null && due <= Math.max(at, Date.now() + 100))
		await runDurableObjectAlarm(room);
}

/** When the room's alarm is due, if it has one. */
export const roomAlarm = (room: Room): Promise<number | null> =>
	runInDurableObject(room, (_instance, state) => state.storage.getAlarm());
