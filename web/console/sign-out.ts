/**
 * Signing out of the console (SPEC §7), kept apart from the browser's globals so that it is tested
 * with the Worker: the agent is offline at once (a `status` frame, then the socket closed with 1000),
 * the token is revoked on the server, and nothing of the session stays in the browser: the token
 * (sessionStorage) and the chats' copies with their transcripts and the token (localStorage). The
 * console's preferences (sound, notifications) stay: they are the agent's settings, nothing private.
 */
import type { AgentClient, KeyValueStorage } from "../../client/index.ts";

/** Where session.ts keeps the signed-in agent (sessionStorage). */
export const SESSION_KEY = "livechat-console:session";

/** Where the console keeps its chats' copies (LocalStorageStore), per agent. */
export const chatStorePrefix = (agentId: string) => `console:${agentId}:`;

/** The part of the Web Storage API that sign-out uses to find and remove what the console kept. */
export type ListedStorage = Pick<KeyValueStorage, "removeItem"> & {
	readonly length: number;
	key(index: number): string | null;
};

/** Cleared even when the server cannot be reached (the token then works until it expires, 12 h at most). */
export async function endSession(
	client: AgentClient,
	storages: { local: ListedStorage; session: ListedStorage }
): Promise<void> {
	try {
		await client.signOut();
	} finally {
		removeAll(storages.local, chatStorePrefix(client.agent.id));
		storages.session.removeItem(SESSION_KEY);
	}
}

function removeAll(storage: ListedStorage, prefix: string): void {
	const keys: string[] = [];
	for (let i = 0; i < storage.length; i++) {
		const key = storage.key(i);
		if (key?.startsWith(prefix)) keys.push(key);
	}
	for (const key of keys) storage.removeItem(key);
}
