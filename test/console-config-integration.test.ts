/** What the agent console reads besides the SDK's calls (SPEC §9): its slice of the site config, and a supervisor's list of live chats. */
import { describe, expect, it } from "vitest";
import { accept, api, createAgent, createSite, startChat } from "./helpers.ts";

describe("console config", () => {
	it("gives agents the canned messages, wrap-up categories and routing mode, and nothing else of the site config", async () => {
		const siteId = await createSite({
			routing: { mode: "manual", sticky: true },
			cannedMessages: [{ shortcut: "hi", text: "Hello, how can I help?" }],
			wrapupCategories: ["Sales", "Support"],
			integrations: {
				webhook: {
					enabled: true,
					url: "https://example.com/hook",
					secret: "0123456789abcdef0123",
				},
			},
		});
		const alice = await createAgent(siteId, "Alice");
		const res = await api(`/sites/${siteId}/console-config`, {
			token: alice.token,
		});
		expect(res.status).toBe(200);
		expect(await res.json()).toEqual({
			routing: { mode: "manual" },
			cannedMessages: [{ shortcut: "hi", text: "Hello, how can I help?" }],
			wrapupCategories: ["Sales", "Support"],
		});
	});

	it("is for the site's agents only", async () => {
		const siteId = await createSite();
		const visitor = await startChat(siteId);
		expect((await api(`/sites/${siteId}/console-config`)).status).toBe(401);
		expect(
			(await api(`/sites/${siteId}/console-config`, { token: visitor.token }))
				.status
		).toBe(403);
		const elsewhere = await createAgent(await createSite(), "Eve");
		expect(
			(await api(`/sites/${siteId}/console-config`, { token: elsewhere.token }))
				.status
		).toBe(403);
	});
});

describe("live chats for supervisors", () => {
	it("lists the site's assigned chats with their agents, for supervisors only", async () => {
		const siteId = await createSite({
			routing: { mode: "manual", sticky: true },
		});
		const alice = await createAgent(siteId, "Alice");
		const boss = await createAgent(siteId, "Boss", { role: "supervisor" });
		const chat = await startChat(siteId, { name: "Vera" });
		expect((await accept(siteId, chat.chatId, alice.token)).status).toBe(200);
		const res = await api(`/sites/${siteId}/live-chats`, { token: boss.token });
		expect(res.status).toBe(200);
		expect(await res.json()).toEqual({
			chats: [
				expect.objectContaining({
					chatId: chat.chatId,
					visitorName: "Vera",
					agentIds: [alice.agentId],
				}),
			],
		});
		expect(
			(await api(`/sites/${siteId}/live-chats`, { token: alice.token })).status
		).toBe(403);
	});
});
