/** What the chat window knows and changes as the visitor goes: one object, so every part of the window sees the same. */
import { MemoryStore } from "../client/store.ts";
import type { LiveChatClient } from "../client/live-chat-client.ts";
import type { ChatStore } from "../client/store.ts";
import type { WidgetConfig } from "../src/protocol/site-config.ts";

export const state: {
	config: WidgetConfig;
	store: ChatStore;
	client: LiveChatClient | undefined;
	readOffset: number;
	/** The visitor stream's offset an agent's read receipt covers. */
	agentReadOffset: number;
	/** Text of a message the server refused because the chat had ended: offered again in the next chat. */
	carryOver: string;
	invitation: { agentName: string; message: string } | undefined;
} = {
	config: { prechat: { fields: [] }, offlineForm: true, rating: true },
	store: new MemoryStore(),
	client: undefined,
	readOffset: 0,
	agentReadOffset: 0,
	carryOver: "",
	invitation: undefined,
};
