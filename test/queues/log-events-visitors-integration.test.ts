/** The visitor page's log events of SPEC §8 reach D1 (`event_log`, written by persistence): visits, conversions, invitations, bans. Bad input publishes nothing. */
import { describe, expect, it } from "vitest";
import { createAgent, createSite, json } from "../helpers.ts";
import { logged, logsDrained, postJson } from "../queue-helpers.ts";
import { pageSocket, visit } from "../visitors.ts";

describe("visitor log events reach D1", () => {
	it("visit.log for each page view and conversion.log for a conversion", async () => {
		const siteId = await createSite();
		expect(
			(await postJson(`/sites/${siteId}/visits`, { page: "" })).status
		).toBe(400);
		const first = await visit(siteId, {
			page: "https://shop.example/",
			referrer: "https://search.example/",
		});
		await visit(siteId, {
			visitorState: first.visitorState,
			page: "https://shop.example/cart",
			title: "Cart",
		});

		const conversions = `/sites/${siteId}/conversions`;
		for (const bad of [
			{ name: "purchase" },
			{ visitorState: first.visitorState, name: "" },
			{ visitorState: first.visitorState, name: "purchase", value: "12" },
			{ visitorState: first.visitorState, name: "purchase", currency: "EUR" },
		])
			expect((await postJson(conversions, bad)).status, json(bad)).toBe(400);
		expect(
			(
				await postJson(conversions, {
					visitorState: "forged.state",
					name: "purchase",
				})
			).status
		).toBe(403);
		expect(
			(
				await postJson(`/sites/no-such-site/conversions`, {
					visitorState: first.visitorState,
					name: "purchase",
				})
			).status
		).toBe(404);
		const converted = await postJson(conversions, {
			visitorState: first.visitorState,
			name: "purchase",
			value: 49.9,
		});
		expect(converted.status).toBe(202);

		await logsDrained(); // what follows is all there will be
		const visits = (await logged(siteId, "visit.log", 2)).sort((a, b) =>
			String(a.page).localeCompare(String(b.page))
		);
		expect(visits).toEqual([
			{
				siteId,
				visitorId: first.visitorId,
				page: "https://shop.example/",
				title: null,
				referrer: "https://search.example/",
				tracked: true,
				at: expect.any(Number),
			},
			{
				siteId,
				visitorId: first.visitorId,
				page: "https://shop.example/cart",
				title: "Cart",
				referrer: null,
				tracked: true,
				at: expect.any(Number),
			},
		]);
		expect(await logged(siteId, "conversion.log", 1)).toEqual([
			{
				siteId,
				visitorId: first.visitorId,
				name: "purchase",
				value: 49.9,
				at: expect.any(Number),
			},
		]);
	});

	it("invitation.log for an invitation, agent.ban for a ban", async () => {
		const siteId = await createSite();
		const alice = await createAgent(siteId, "Alice");
		const visitor = await visit(siteId, { page: "/" });
		await pageSocket(siteId, visitor.visitorState);
		const visitorPath = `/sites/${siteId}/visitors/${visitor.visitorId}`;

		expect(
			(await postJson(`${visitorPath}/invite`, { message: "" }, alice.token))
				.status
		).toBe(400);
		expect(
			(
				await postJson(
					`${visitorPath}/invite`,
					{ message: "Need a hand?" },
					alice.token
				)
			).status
		).toBe(200);
		expect(
			(await postJson(`${visitorPath}/ban`, { minutes: -1 }, alice.token))
				.status
		).toBe(400);
		expect(
			(
				await postJson(
					`${visitorPath}/ban`,
					{ reason: "spam", minutes: 30 },
					alice.token
				)
			).status
		).toBe(200);

		await logsDrained(); // what follows is all there will be
		expect(await logged(siteId, "invitation.log", 1)).toEqual([
			{
				siteId,
				agentId: alice.agentId,
				agentName: "Alice",
				visitorId: visitor.visitorId,
				message: "Need a hand?",
				delivered: 1,
				at: expect.any(Number),
			},
		]);
		expect(await logged(siteId, "agent.ban", 1)).toEqual([
			{
				siteId,
				agentId: alice.agentId,
				visitorId: visitor.visitorId,
				reason: "spam",
				until: expect.any(Number),
				at: expect.any(Number),
			},
		]);
	});
});
