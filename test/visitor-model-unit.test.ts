import { describe, expect, it } from "vitest";
import {
	inForce,
	summaries,
	track,
	VISITOR_GONE_MS,
} from "../durable-objects/visitor-model.ts";
import type { Ban, TrackedVisitor } from "../durable-objects/visitor-model.ts";

const nobodyConnected = () => false;
const ids = (list: Map<string, TrackedVisitor>) => [...list.keys()];

describe("the tracked list", () => {
	it("holds at most max visitors, dropping the oldest first; a returning visitor is the newest and keeps its first-seen time", () => {
		const list = new Map<string, TrackedVisitor>();
		expect(
			track(list, { visitorId: "a", page: "/" }, 2, 1000, nobodyConnected)
		).toEqual({ tracked: true, dropped: [] });
		track(list, { visitorId: "b", page: "/" }, 2, 2000, nobodyConnected);
		expect(
			track(list, { visitorId: "c", page: "/" }, 2, 3000, nobodyConnected)
		).toEqual({ tracked: true, dropped: ["a"] });
		expect(
			track(
				list,
				{ visitorId: "b", page: "/next", title: "" },
				2,
				4000,
				nobodyConnected
			).dropped
		).toEqual([]);
		expect(ids(list)).toEqual(["c", "b"]);
		expect(list.get("b")).toEqual({
			visitorId: "b",
			page: "/next",
			firstSeen: 2000,
			lastSeen: 4000,
		});
	});

	it("drops visitors who left before the oldest one still on the site", () => {
		const list = new Map<string, TrackedVisitor>();
		track(list, { visitorId: "reading", page: "/" }, 2, 0, nobodyConnected);
		track(list, { visitorId: "left", page: "/" }, 2, 1, nobodyConnected);
		const now = VISITOR_GONE_MS + 10;
		expect(
			track(
				list,
				{ visitorId: "new", page: "/" },
				2,
				now,
				(id) => id === "reading"
			).dropped
		).toEqual(["left"]);
		expect(ids(list)).toEqual(["reading", "new"]);
	});

	it("tracks nobody when max is 0", () => {
		const list = new Map<string, TrackedVisitor>([
			["a", { visitorId: "a", firstSeen: 0, lastSeen: 0 }],
		]);
		expect(
			track(list, { visitorId: "b", page: "/" }, 0, 10, nobodyConnected)
		).toEqual({ tracked: false, dropped: ["a"] });
		expect(list.size).toBe(0);
	});

	it("lists the most recently seen first, without the visitors who left; time on site runs while a page is open", () => {
		const list = new Map<string, TrackedVisitor>();
		track(list, { visitorId: "gone", page: "/" }, 10, 0, nobodyConnected);
		track(list, { visitorId: "old", page: "/" }, 10, 1, nobodyConnected);
		track(list, { visitorId: "recent", page: "/" }, 10, 2, nobodyConnected);
		track(
			list,
			{ visitorId: "recent", page: "/next" },
			10,
			1000,
			nobodyConnected
		);
		const now = VISITOR_GONE_MS + 1;
		const seen = summaries(list.values(), now, {
			connected: (id) => id === "old",
			chatting: new Set(["recent"]),
			banned: (id) => id === "old",
		});
		expect(
			seen.map((v) => [
				v.visitorId,
				v.chatting,
				v.connected,
				v.banned,
				v.timeOnSite,
			])
		).toEqual([
			["recent", true, false, false, 1000 - 2],
			["old", false, true, true, now - 1],
		]);
	});
});

it("a ban is in force until its end, or for good without one", () => {
	const ban: Ban = {
		visitorId: "v",
		until: 100,
		reason: null,
		agentId: "a",
		at: 0,
	};
	expect(inForce(ban, 99)).toBe(true);
	expect(inForce(ban, 100)).toBe(false);
	expect(inForce({ ...ban, until: null }, Number.MAX_SAFE_INTEGER)).toBe(true);
	expect(inForce(undefined, 0)).toBe(false);
});
