export { LiveChatClient, LiveChatError, type LiveChatClientOptions } from "./live-chat-client.ts";
export { LocalStorageStore, MemoryStore, type ChatSnapshot, type ChatStore, type OutboxItem } from "./store.ts";
export { Transport, Unreachable, type TransportOptions } from "./transport.ts";
