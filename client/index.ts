export {
	LiveChatClient,
	LiveChatError,
	type ChatEvent,
	type LiveChatClientOptions,
} from "./live-chat-client.ts";
export { openWebSocket, type OpenSocket } from "./socket-session.ts";
export {
	LocalStorageStore,
	MemoryStore,
	type ChatSnapshot,
	type ChatStore,
	type KeyValueStorage,
	type OutboxItem,
} from "./store.ts";
export { Transport, Unreachable, type TransportOptions } from "./transport.ts";
export {
	AgentClient,
	type Agent,
	type AgentClientOptions,
	type AgentEvent,
} from "./agent-client.ts";
