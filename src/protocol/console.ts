/** What the agent console reads besides the SDK's calls (SPEC §9): `GET …/console-config` and, for supervisors, `GET …/live-chats`. */

/** The slice of the site's configuration an agent may read: never its integrations or their secrets. */
export interface ConsoleConfig {
	routing: { mode: "auto" | "manual" };
	cannedMessages: { shortcut: string; text: string }[];
	wrapupCategories: string[];
}

/** An assigned chat of the site, which a supervisor may join or monitor. */
export interface LiveChatSummary {
	chatId: string;
	visitorName?: string;
	requestTime?: number;
	agentIds: string[];
}
