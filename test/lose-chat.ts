import {
	abortAllDurableObjects,
	env,
	runInDurableObject,
} from "cloudflare:test";
import { END_GRACE_MS } from "../durable-objects/chat-announcements.ts";
import { chatRoom } from "../durable-objects/room-contract.ts";

/**
 * Makes the server forget a chat the way each mode can: memory mode by eviction, durable mode by
 * losing its storage (a restore from before the chat existed). Either way the next call is code 1 −1/−1.
 */
export async function loseChat(siteId: string, chatId: string): Promise<void> {
	if (env.CHAT_STATE === "durable") {
		const room = chatRoom(env, siteId, chatId);
		await runInDurableObject(room, (_instance, state) =>
			state.storage.deleteAll()
		);
	}
	await abortAllDurableObjects();
}

/** Rolls a durable room's storage back by the newest `n` messages of each stream, as a point-in-time restore would. */
export async function rollBack(
	siteId: string,
	chatId: string,
	n: number
): Promise<void> {
	const room = chatRoom(env, siteId, chatId);
	await runInDurableObject(room, (_instance, state) => {
		for (const stream of [1, 2]) {
			state.storage.sql.exec(
				`DELETE FROM messages WHERE stream = ? AND data_offset > (SELECT MAX(data_offset) FROM messages WHERE stream = ?) - ?`,
				stream,
				stream,
				n
			);
		}
	});
	await abortAllDurableObjects();
}

/** Ends the wait of a room restored from one side's copy (SPEC §3), as 60 s passing would; its alarm then publishes. */
export async function endGraceOver(
	siteId: string,
	chatId: string
): Promise<void> {
	const room = chatRoom(env, siteId, chatId);
	await runInDurableObject(room, (instance) => {
		const { announcements } = instance as unknown as {
			announcements: { restoredAt?: number };
		};
		if (announcements.restoredAt !== undefined)
			announcements.restoredAt -= END_GRACE_MS;
	});
}
