/**
 * SPEC §6, abuse limits: agent login per email and per client address, growing with failures. The
 * counters' clocks stand still (durable-objects/clock.ts) and are moved on by the test, so what is
 * refused depends on the attempts made, not on how long the machine took to make them.
 */
import { env, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { clientAddressKey } from "../src/client-address.ts";
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

/** The login counters of this email of a site and of this client address read `at` until told otherwise. */
async function stopLoginClocks(
	at: number,
	{
		siteId,
		email,
		address,
	}: { siteId?: string; email?: string; address?: string }
): Promise<void> {
	const names = [
		...(siteId && email
			? [`login-email:${siteId}:${email.toLowerCase()}`]
			: []),
		...(address ? [`login-address:${clientAddressKey(address)}`] : []),
	];
	for (const name of names)
		await runInDurableObject(env.ABUSE_COUNTER.getByName(name), (counter) =>
			counter.clock.stop(at)
		);
}

describe("agent login limits", () => {
	it(
		"answers 429 with Retry-After after a few wrong passwords, and a right one only once the wait is over",
		{ timeout: 60_000 },
		async () => {
			const { siteId, email } = await siteWithAgent();
			const address = someAddress();
			const start = Date.now();
			await stopLoginClocks(start, { siteId, email, address });
			const answers = [];
			for (let i = 0; i < 60; i++)
				answers.push(await login(siteId, email, `wrong ${i}`, address));

			// A few typos, then every attempt waits: the counters' time stands still, so none of the waits runs out.
			expect(answers.map((a) => a.status)).toEqual([
				...new Array(PER_EMAIL).fill(401),
				...new Array(60 - PER_EMAIL).fill(429),
			]);
			for (const limited of answers.slice(PER_EMAIL))
				expect(limited).toMatchObject({
					type: "rate_limited",
					retryAfter: "1",
				});

			// The right password does not get past the wait either…
			const early = await login(siteId, email, PASSWORD, address);
			expect(early).toMatchObject({ status: 429, type: "rate_limited" });
			// …and works once it is over; a success forgets the failures.
			await stopLoginClocks(start + Number(early.retryAfter) * 1000 - 1, {
				siteId,
				email,
				address,
			});
			expect((await login(siteId, email, PASSWORD, address)).status).toBe(429);
			await stopLoginClocks(start + Number(early.retryAfter) * 1000, {
				siteId,
				email,
				address,
			});
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
			await stopLoginClocks(Date.now(), { siteId, email, address });
			const answers = await Promise.all(
				Array.from({ length: 20 }, (_, i) =>
					login(siteId, email, `guess ${i}`, address)
				)
			);
			const statuses = answers.map((a) => a.status);
			expect(statuses.filter((s) => s === 401)).toHaveLength(PER_EMAIL);
			expect(statuses.filter((s) => s === 429)).toHaveLength(20 - PER_EMAIL);
		}
	);

	it(
		"leaves another email from another address alone",
		{ timeout: 60_000 },
		async () => {
			const locked = await siteWithAgent();
			const address = someAddress();
			await stopLoginClocks(Date.now(), { ...locked, address });
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
			await stopLoginClocks(Date.now(), { address: `${prefix}::1` });
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
