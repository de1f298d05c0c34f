/**
 * The loader's watch on the open chat (livechat.js, SPEC §9): the open chat's socket while the
 * window is not loaded. Offsets without chains (the room checks none then); any news, or a room
 * that wants a rebuild, brings in the window, whose client takes over.
 */
import { MessageType } from "../src/protocol/offsets.ts";
import { readChat, readValue } from "./idb-store.ts";
import { chatKey, currentChatKey } from "./widget-shared.ts";

/**
 * Answers the loader's releaseSocket: the window calls it when its client takes the chat over.
 */
export function watchOpenChat(
	siteId: string,
	wsUrl: string,
	db: Promise<IDBDatabase | undefined>,
	setUnread: (count: number) => void,
	news: () => void
): () => void {
	let chatSocket: WebSocket | undefined;
	let socketReleased = false;
	void watchChat();
	return function releaseSocket(): void {
		socketReleased = true;
		chatSocket?.close(1000);
		chatSocket = undefined;
	};

	async function watchChat(failures = 0): Promise<void> {
		const database = await db;
		if (!database) return;
		const chatId = await readValue(database, currentChatKey(siteId)).catch(
			() => undefined
		);
		const record = chatId
			? await readChat(database, chatKey(siteId, chatId)).catch(() => undefined)
			: undefined;
		const snapshot = record?.snapshot;
		if (!snapshot || snapshot.status === "ended" || socketReleased) return;
		const top = (stream: number[]) => {
			const have = new Set(stream);
			let n = 0;
			while (have.has(n + 1)) n++;
			return n;
		};
		const visitorDataOffset = top(
			snapshot.messages
				.filter((m) => m.type === MessageType.Visitor)
				.map((m) => m.dataOffset)
		);
		const agentDataOffset = top(
			snapshot.messages
				.filter((m) => m.type !== MessageType.Visitor)
				.map((m) => m.dataOffset)
		);
		const ws = new WebSocket(`${wsUrl}/chats/${snapshot.chatId}/ws`);
		chatSocket = ws;
		let unread = 0;
		ws.onopen = () =>
			ws.send(
				JSON.stringify({
					type: "hello",
					token: snapshot.token,
					visitorDataOffset,
					agentDataOffset,
				})
			);
		ws.onmessage = (event) => {
			if (event.data === "pong") return;
			let frame: {
				type?: string;
				code?: number;
				messages?: { type?: number }[];
				message?: { type?: number };
			};
			try {
				frame = JSON.parse(String(event.data));
			} catch {
				return;
			}
			failures = 0;
			const fromAgents = [
				...(frame.messages ?? []),
				...(frame.message ? [frame.message] : []),
			].filter(
				(m) => m.type === MessageType.Agent || m.type === MessageType.Bot
			).length;
			if (fromAgents > 0) setUnread((unread += fromAgents));
			const quiet =
				(frame.type === "sync" &&
					frame.code === 0 &&
					!frame.messages?.length) ||
				frame.type === "typing" ||
				frame.type === "read";
			if (!quiet) news();
		};
		ws.onclose = (event) => {
			if (
				chatSocket !== ws ||
				socketReleased ||
				event.code === 4401 ||
				event.code === 4403
			)
				return;
			chatSocket = undefined;
			setTimeout(
				() => void watchChat(failures + 1),
				Math.min(30_000, 1000 * 2 ** failures)
			);
		};
	}
}
