/** SPEC §6, abuse limits: agent login per email and per client address, growing with failures. */
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { api, createSite, json } from "./helpers.ts";

const PASSWORD = "the right password";
/** Failures in a row that one email may have before each further attempt must wait. */
const PER_EMAIL = 5;
/** Failures one client address may have. */
const PER_ADDRESS = 20;

async function siteWithAgent(): Promise<{ siteId: string; email: string }> {
	const siteId = await createSite();
	const email = `agent-${crypto.randomUUID().slice(0, 8)}@example.com`;
	const created = await api(`/admin/sites/${siteId}/agents`, {
		method: "POST",
		token: env.ADMIN_TOKEN,
		body: json({ email, name: "Lim", password: PASSWORD }),
	});
	expect(created.status).toBe(201);
	return { siteId, email };
}

const randomByte = () => crypto.getRandomValues(new Uint8Array(1))[0]!;
/** A fresh address from the documentation ranges, so tests never share one. */
const someAddress = () => `198.51.${randomByte()}.${randomByte()}`;

async function login(
	siteId: string,
	email: string,
	password: string,
	address: string
) {
	const res = await api(`/sites/${siteId}/agent-sessions`, {
		method: "POST",
		headers: { "CF-Connecting-IP": address },
		body: json({ email, password }),
	});
	const body = await res.json<{ error?: { type: string } }>();
	return {
		status: res.status,
		retryAfter: res.headers.get("Retry-After"),
		type: body.error?.type,
	};
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("agent login limits", () => {
	it(
		"answers 429 with Retry-After after a few wrong passwords, and a right one only once the wait is over",
		{ timeout: 60_000 },
		async () => {
			const { siteId, email } = await siteWithAgent();
			const address = someAddress();
			const answers = [];
			for (let i = 0; i < 60; i++)
				answers.push(await login(siteId, email, `wrong ${i}`, address));

			expect(answers.slice(0, PER_EMAIL).map((a) => a.status)).toEqual(
				new Array(PER_EMAIL).fill(401)
			);
			expect(answers[PER_EMAIL]).toMatchObject({
				status: 429,
				type: "rate_limited",
			});
			for (const limited of answers.filter((a) => a.status === 429))
				expect(Number(limited.retryAfter)).toBeGreaterThanOrEqual(1);
			// Each wait doubles: a slow machine may see one or two more 401s as waits run out, never dozens.
			const wrong = answers.filter((a) => a.status === 401).length;
			expect(wrong).toBeLessThanOrEqual(PER_EMAIL + 2);
			expect(answers.filter((a) => a.status === 429).length).toBe(60 - wrong);

			// The right password does not get past the wait either…
			const early = await login(siteId, email, PASSWORD, address);
			expect(early).toMatchObject({ status: 429, type: "rate_limited" });
			// …and works once it is over; a success forgets the failures.
			await sleep(Number(early.retryAfter) * 1000 + 100);
			expect((await login(siteId, email, PASSWORD, address)).status).toBe(200);
			expect((await login(siteId, email, "wrong again", address)).status).toBe(
				401
			);
			expect((await login(siteId, email, PASSWORD, address)).status).toBe(200);
		}
	);

	it(
		"counts attempts made in parallel before checking their passwords",
		{ timeout: 60_000 },
		async () => {
			const { siteId, email } = await siteWithAgent();
			const address = someAddress();
			const answers = await Promise.all(
				Array.from({ length: 20 }, (_, i) =>
					login(siteId, email, `guess ${i}`, address)
				)
			);
			const statuses = answers.map((a) => a.status);
			expect(statuses.filter((s) => s === 401).length).toBeLessThanOrEqual(
				PER_EMAIL
			);
			expect(statuses.filter((s) => s === 429).length).toBeGreaterThanOrEqual(
				20 - PER_EMAIL
			);
			expect(statuses.every((s) => s === 401 || s === 429)).toBe(true);
		}
	);

	it(
		"leaves another email from another address alone",
		{ timeout: 60_000 },
		async () => {
			const locked = await siteWithAgent();
			const address = someAddress();
			for (let i = 0; i <= PER_EMAIL; i++)
				await login(locked.siteId, locked.email, `wrong ${i}`, address);
			expect(
				(await login(locked.siteId, locked.email, PASSWORD, address)).status
			).toBe(429);

			const other = await siteWithAgent();
			const elsewhere = someAddress();
			expect(
				(await login(other.siteId, other.email, "a typo", elsewhere)).status
			).toBe(401);
			expect(
				(await login(other.siteId, other.email, PASSWORD, elsewhere)).status
			).toBe(200);
			// The same email on another site is another account.
			const created = await api(`/admin/sites/${other.siteId}/agents`, {
				method: "POST",
				token: env.ADMIN_TOKEN,
				body: json({
					email: locked.email,
					name: "Namesake",
					password: PASSWORD,
				}),
			});
			expect(created.status).toBe(201);
			expect(
				(await login(other.siteId, locked.email, PASSWORD, elsewhere)).status
			).toBe(200);
		}
	);

	it(
		"limits one address across emails, counting an IPv6 address by its /64",
		{ timeout: 60_000 },
		async () => {
			const { siteId } = await siteWithAgent();
			const prefix = `2001:db8:${randomByte().toString(16)}:${randomByte().toString(16)}`;
			// Each email fails once only, from a different address of the same /64 each time.
			for (let i = 1; i <= PER_ADDRESS; i++) {
				expect(
					(
						await login(
							siteId,
							`nobody-${i}@example.com`,
							"guess",
							`${prefix}::${i.toString(16)}`
						)
					).status
				).toBe(401);
			}
			const limited = await login(
				siteId,
				"nobody-else@example.com",
				"guess",
				`${prefix}:1:2:3:4`
			);
			expect(limited).toMatchObject({ status: 429, type: "rate_limited" });
			expect(Number(limited.retryAfter)).toBeGreaterThanOrEqual(1);
			// The next /64 is another subscriber.
			expect(
				(
					await login(
						siteId,
						"nobody-else@example.com",
						"guess",
						`${prefix.replace(/:[0-9a-f]+$/, ":ffff")}::1`
					)
				).status
			).toBe(401);
		}
	);

	it(
		"lets many agents behind one address log in: only failures add up",
		{ timeout: 60_000 },
		async () => {
			const address = someAddress();
			for (let i = 0; i < PER_ADDRESS + 5; i++) {
				const { siteId, email } = await siteWithAgent();
				expect((await login(siteId, email, PASSWORD, address)).status).toBe(
					200
				);
			}
		}
	);

	it("checks the body first: a malformed login is 400 and counts for nothing", async () => {
		const { siteId, email } = await siteWithAgent();
		const address = someAddress();
		for (let i = 0; i < PER_EMAIL + 3; i++) {
			const res = await api(`/sites/${siteId}/agent-sessions`, {
				method: "POST",
				headers: { "CF-Connecting-IP": address },
				body: json({ email }),
			});
			expect(res.status).toBe(400);
		}
		expect((await login(siteId, email, PASSWORD, address)).status).toBe(200);
	});
});
