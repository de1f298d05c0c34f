import { describe, expect, it } from "vitest";
import { LiveChatClient, LocalStorageStore } from "../client/index.ts";
import {
	BASE,
	CHAT,
	FakeRoom,
	fakeToken,
	message,
	SITE,
} from "./client-fake-room.ts";
import { FullStore } from "./client-helpers.ts";
import type { ChatEvent, ChatSnapshot, ChatStore } from "../client/index.ts";
import type { ChatMessage } from "../src/protocol/chat.ts";

/** localStorage in a Map: counts writes, and throws QuotaExceededError past `quota` characters. */
class FakeStorage {
	readonly items = new Map<string, string>();
	writes: string[] = [];
	constructor(public quota = Infinity) {}
	getItem(key: string) {
		return this.items.get(key) ?? null;
	}
	setItem(key: string, value: string) {
		const used = [...this.items].reduce(
			(n, [k, v]) => n + (k === key ? 0 : k.length + v.length),
			0
		);
		if (used + key.length + value.length > this.quota)
			throw new DOMException(
				"the quota has been exceeded",
				"QuotaExceededError"
			);
		this.items.set(key, value);
		this.writes.push(key);
	}
	removeItem(key: string) {
		this.items.delete(key);
	}
}

const chatId = (n: number) =>
	`00000000-0000-4000-8000-${String(n).padStart(12, "0")}`;
const snapshotOf = (
	n: number,
	messages: ChatMessage[] = [],
	outbox: ChatSnapshot["outbox"] = []
): ChatSnapshot => ({
	siteId: SITE,
	chatId: chatId(n),
	token: "t",
	chatState: "s",
	messages,
	outbox,
	displaced: [],
});
const keyOf = (n: number) => `${SITE}/${chatId(n)}`;
const sortById = (messages: ChatMessage[]) =>
	[...messages].sort((a, b) => a.id.localeCompare(b.id));

describe("LocalStorageStore", () => {
	it("gives back what it saved", async () => {
		const store = new LocalStorageStore(new FakeStorage());
		const messages = [
			...Array.from({ length: 250 }, (_, i) => message(1, i + 1, `v${i}`)),
			message(2, 1, "a1"),
			message(4, 2, "joined"),
		];
		const snapshot = {
			...snapshotOf(1, messages, [{ id: chatId(99), content: "unsent" }]),
			status: "chatting" as const,
		};
		await store.save(keyOf(1), snapshot);
		const loaded = await new LocalStorageStore(store["storage"]).load(keyOf(1));
		expect({ ...loaded, messages: sortById(loaded!.messages) }).toEqual({
			...snapshot,
			messages: sortById(messages),
		});
		expect(await store.load(keyOf(2))).toBeUndefined();
	});

	it("writes only what changed: nothing for an unchanged chat, one page for a new message", async () => {
		const storage = new FakeStorage();
		const store = new LocalStorageStore(storage);
		const messages = Array.from({ length: 250 }, (_, i) =>
			message(1, i + 1, `v${i}`)
		);
		await store.save(keyOf(1), snapshotOf(1, messages));
		storage.writes = [];
		await store.save(keyOf(1), snapshotOf(1, messages));
		expect(storage.writes).toEqual([]);

		const more = [...messages, message(1, 251, "new")];
		await store.save(keyOf(1), snapshotOf(1, more));
		expect(storage.writes).toEqual([`livechat:page:${keyOf(1)}:v2`]);
		storage.writes = [];
		await store.save(keyOf(1), {
			...snapshotOf(1, more),
			outbox: [{ id: chatId(99), content: "typed" }],
		});
		expect(storage.writes).toEqual([`livechat:chat:${keyOf(1)}`]);

		// After a reload, a page that read the chat writes nothing for it either.
		const reloaded = new LocalStorageStore(storage);
		const copy = await reloaded.load(keyOf(1));
		storage.writes = [];
		await reloaded.save(keyOf(1), copy!);
		expect(storage.writes).toEqual([]);
	});

	it("keeps the newest 20 chats, and older ones only while they hold unsent messages", async () => {
		const storage = new FakeStorage();
		const store = new LocalStorageStore(storage);
		for (let n = 1; n <= 25; n++) {
			await store.save(
				keyOf(n),
				snapshotOf(
					n,
					[message(1, 1, `chat ${n}`)],
					n === 2 ? [{ id: chatId(100), content: "not sent yet" }] : []
				)
			);
		}
		const kept = [];
		for (let n = 1; n <= 25; n++) if (await store.load(keyOf(n))) kept.push(n);
		expect(kept).toEqual([2, ...Array.from({ length: 20 }, (_, i) => i + 6)]);
		// Nothing of the dropped chats is left behind.
		expect(
			[...storage.items.keys()].filter((k) => k.includes(chatId(1)))
		).toEqual([]);
	});

	it("makes room when the storage is full: the other chats with nothing unsent go, the save goes through", async () => {
		const storage = new FakeStorage();
		const store = new LocalStorageStore(storage);
		const big = (n: number) =>
			Array.from({ length: 50 }, (_, i) =>
				message(1, i + 1, `chat ${n} `.repeat(20))
			);
		for (let n = 1; n <= 3; n++)
			await store.save(
				keyOf(n),
				snapshotOf(
					n,
					big(n),
					n === 1 ? [{ id: chatId(100), content: "unsent" }] : []
				)
			);
		storage.quota =
			[...storage.items].reduce(
				(size, [k, v]) => size + k.length + v.length,
				0
			) + 100;

		await store.save(keyOf(4), snapshotOf(4, big(4)));
		expect(await store.load(keyOf(4))).toBeDefined();
		expect(await store.load(keyOf(1))).toBeDefined(); // its outbox is still to be sent
		expect(await store.load(keyOf(2))).toBeUndefined();

		storage.quota = 0;
		await expect(
			store.save(keyOf(4), snapshotOf(4, big(5)))
		).rejects.toMatchObject({ name: "QuotaExceededError" });
	});

	it("reads a chat an earlier version saved whole, and stores it the new way", async () => {
		const storage = new FakeStorage();
		const { displaced: _, ...old } = snapshotOf(1, [
			message(1, 1, "from before"),
		]);
		storage.setItem(`livechat:${keyOf(1)}`, JSON.stringify(old));
		const loaded = await new LocalStorageStore(storage).load(keyOf(1));
		expect(loaded).toEqual(snapshotOf(1, old.messages));
		expect(storage.items.has(`livechat:${keyOf(1)}`)).toBe(false);
		expect(await new LocalStorageStore(storage).load(keyOf(1))).toEqual(loaded);
	});
});

describe("LocalStorageStore.remove", () => {
	it("forgets one chat whole (its record, its pages, its place in the list) and keeps the others", async () => {
		const storage = new FakeStorage();
		const store = new LocalStorageStore(storage);
		const long = Array.from({ length: 150 }, (_, i) =>
			message(1, i + 1, `m${i}`)
		);
		await store.save(keyOf(1), snapshotOf(1, long));
		await store.save(keyOf(2), snapshotOf(2, [message(1, 1, "kept")]));
		await store.remove(keyOf(1));
		expect(await store.load(keyOf(1))).toBeUndefined();
		expect(
			[...storage.items.keys()].filter((k) => k.includes(chatId(1)))
		).toEqual([]);
		expect(JSON.parse(storage.getItem("livechat:chats")!)).toEqual([keyOf(2)]);
		expect(
			(await store.load(keyOf(2)))?.messages.map((m) => m.content)
		).toEqual(["kept"]);
		// Saved again later, it is a new chat to the store.
		await store.save(keyOf(1), snapshotOf(1));
		expect(await new LocalStorageStore(storage).load(keyOf(1))).toEqual(
			snapshotOf(1)
		);
	});
});

describe("LiveChatClient with a store that cannot save", () => {
	it("sends anyway, reports the message accepted, says the copy is not saved, and saves it once the store recovers", async () => {
		const room = new FakeRoom();
		room.chatState = undefined;
		const store = new FullStore();
		const events: ChatEvent[] = [];
		const client = new LiveChatClient({
			baseUrls: [BASE],
			siteId: SITE,
			chatId: CHAT,
			token: fakeToken("visitor"),
			store,
			fetch: room.fetch,
			onEvent: (e) => events.push(e),
		});

		const sent = await client.send("hello");
		expect(sent).toEqual(room.log.get(sent.id));
		expect(room.log.all().map((m) => m.content)).toEqual(["hello"]);
		expect(client.pending).toEqual([]);
		expect(client.saved).toBe(false);
		expect(events.filter((e) => e.type === "storage")).toMatchObject([
			{ type: "storage", saved: false, error: { name: "QuotaExceededError" } },
		]);

		store.full = false;
		await client.poll(); // nothing new: the heartbeat saves the copy all the same
		expect(client.saved).toBe(true);
		expect((await store.load(`${SITE}/${CHAT}`))?.messages).toEqual([sent]);
		expect(
			events
				.filter((e) => e.type === "storage")
				.map((e) => e.type === "storage" && e.saved)
		).toEqual([false, true]);
	});

	it("saves one copy at a time, the newest last, however long each save takes", async () => {
		const room = new FakeRoom([
			message(2, 1, "from the agent"),
			message(2, 2, "and more"),
		]);
		let inFlight = 0;
		let most = 0;
		let last: ChatSnapshot | undefined;
		const slow: ChatStore = {
			load: async () => undefined,
			save: async (_key, snapshot) => {
				most = Math.max(most, ++inFlight);
				// Older copies take longer: saved side by side, an older one would land last.
				await new Promise((resolve) =>
					setTimeout(resolve, 40 - snapshot.messages.length * 10)
				);
				inFlight--;
				last = snapshot;
			},
		};
		const client = new LiveChatClient({
			baseUrls: [BASE],
			siteId: SITE,
			chatId: CHAT,
			token: fakeToken("visitor"),
			store: slow,
			fetch: room.fetch,
		});
		await Promise.all([client.send("one"), client.poll(), client.send("two")]);
		expect(most).toBe(1);
		expect(last?.messages.map((m) => m.content).sort()).toEqual([
			"and more",
			"from the agent",
			"one",
			"two",
		]);
		expect(last?.outbox).toEqual([]);
	});
});
