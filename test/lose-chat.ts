import { abortAllDurableObjects, env, runInDurableObject } from "cloudflare:test";

/**
 * Makes the server forget a chat the way each mode can: memory mode by eviction, durable mode by
 * losing its storage (a restore from before the chat existed). Either way the next call is code 1 −1/−1.
 */
export async function loseChat(siteId: string, chatId: string): Promise<void> {
	if (env.CHAT_STATE === "durable") {
		const room = env.CHAT_ROOM.get(env.CHAT_ROOM.idFromName(`${siteId}/${chatId}`));
		await runInDurableObject(room, (_instance, state) => state.storage.deleteAll());
	}
	await abortAllDurableObjects();
}

/** Rolls a durable room's storage back by the newest `n` messages of each stream, as a point-in-time restore would. */
export async function rollBack(siteId: string, chatId: string, n: number): Promise<void> {
	const room = env.CHAT_ROOM.get(env.CHAT_ROOM.idFromName(`${siteId}/${chatId}`));
	await runInDurableObject(room, (_instance, state) => {
		for (const stream of [1, 2]) {
			state.storage.sql.exec(
				`DELETE FROM messages WHERE stream = ? AND data_offset > (SELECT MAX(data_offset) FROM messages WHERE stream = ?) - ?`,
				stream,
				stream,
				n,
			);
		}
	});
	await abortAllDurableObjects();
}
