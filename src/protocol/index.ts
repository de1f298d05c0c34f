export * from "./chat.ts";
export * from "./site-config.ts";
export * from "./chat-state.ts";
export * from "./ws.ts";
