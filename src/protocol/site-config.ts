import { z } from "zod";
import { MAX_CONTENT_LENGTH } from "./chat.ts";

const toggle = <T extends z.ZodRawShape>(shape: T) =>
	z.strictObject({ enabled: z.boolean().default(false), ...shape });

/**
 * Where integrations may call (SPEC §6): `https:`, or plain `http:` to loopback for local tests;
 * never a link-local (cloud metadata), private, reserved or "this network" address, nor a name
 * that only an internal resolver knows. Checked when an admin saves a site and again before each
 * call (a configuration stored before this rule). A public name that resolves to such an address is
 * not caught here (a Worker cannot resolve names): a self-hosted workerd should limit its egress.
 * Returns why the URL is refused, or undefined when it is fine.
 */
export function integrationUrlProblem(raw: string): string | undefined {
	let url: URL;
	try {
		url = new URL(raw);
	} catch {
		return "is not a URL";
	}
	if (url.protocol !== "https:" && url.protocol !== "http:")
		return `must be https: (not ${url.protocol})`;
	const host = hostKind(url.hostname);
	if (host === "loopback") return undefined;
	if (host !== "public")
		return `points at a host integrations may not call (${host})`;
	return url.protocol === "https:"
		? undefined
		: "must be https: (plain http: only to loopback, for local tests)";
}

/** `https://shop.example`, as a browser sends it in `Origin`: no path, no trailing slash, lower case. */
function isOrigin(raw: string): boolean {
	try {
		return new URL(raw).origin === raw;
	} catch {
		return false;
	}
}

type HostKind =
	"loopback" | "public" | "link-local" | "private" | "reserved" | "internal";

/** `hostname` as the URL parser leaves it: lower case, IPv4 in dotted decimal, IPv6 in brackets and compressed. */
function hostKind(hostname: string): HostKind {
	const name = hostname.replace(/\.$/, "");
	if (name.startsWith("[")) return ipv6Kind(name.slice(1, -1));
	const v4 = ipv4(name);
	if (v4 !== undefined) return ipv4Kind(v4);
	if (name === "localhost" || name.endsWith(".localhost")) return "loopback";
	// "metadata", "metadata.google.internal", "printer.local": only an internal resolver knows them.
	if (
		!name.includes(".") ||
		name.endsWith(".internal") ||
		name.endsWith(".local")
	)
		return "internal";
	return "public";
}

function ipv4(name: string): number | undefined {
	const parts = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(name);
	return parts
		? parts.slice(1).reduce((n, part) => n * 256 + Number(part), 0)
		: undefined;
}

const V4_RANGES: [base: string, bits: number, kind: HostKind][] = [
	["127.0.0.0", 8, "loopback"],
	["169.254.0.0", 16, "link-local"],
	["0.0.0.0", 8, "reserved"],
	["10.0.0.0", 8, "private"],
	["100.64.0.0", 10, "private"],
	["172.16.0.0", 12, "private"],
	["192.168.0.0", 16, "private"],
	["192.0.0.0", 24, "reserved"],
	["198.18.0.0", 15, "reserved"],
	["224.0.0.0", 3, "reserved"],
];

function ipv4Kind(address: number): HostKind {
	for (const [base, bits, kind] of V4_RANGES) {
		const size = 2 ** (32 - bits);
		if (Math.floor(address / size) === Math.floor(ipv4(base)! / size))
			return kind;
	}
	return "public";
}

function ipv6Kind(literal: string): HostKind {
	const [head = "", tail] = literal.split("::");
	const groups = (text: string) =>
		text ? text.split(":").map((g) => parseInt(g, 16)) : [];
	const known = [...groups(head), ...(tail === undefined ? [] : groups(tail))];
	const g =
		tail === undefined
			? known
			: [...groups(head), ...Array(8 - known.length).fill(0), ...groups(tail)];
	const first96Zero = g.slice(0, 6).every((x) => x === 0);
	if (first96Zero && g[6] === 0 && g[7] === 1) return "loopback";
	if (first96Zero && g[6] === 0 && g[7] === 0) return "reserved";
	const embeddedV4 = () => ipv4Kind(g[6]! * 65536 + g[7]!);
	// IPv4-mapped (::ffff:a.b.c.d), IPv4-compatible (::a.b.c.d) and NAT64 (64:ff9b::a.b.c.d) carry an IPv4 address.
	if (g.slice(0, 5).every((x) => x === 0) && (g[5] === 0xffff || g[5] === 0))
		return embeddedV4();
	if (g[0] === 0x64 && g[1] === 0xff9b && g.slice(2, 6).every((x) => x === 0))
		return embeddedV4();
	const top = g[0]!;
	if ((top & 0xffc0) === 0xfe80) return "link-local";
	if ((top & 0xfe00) === 0xfc00 || (top & 0xffc0) === 0xfec0) return "private";
	if ((top & 0xff00) === 0xff00) return "reserved";
	return "public";
}

const colour = z.string().regex(/^#[0-9a-fA-F]{6}$/, "a colour like #2453d4");

/** The widget's part of a site's configuration (SPEC §4). */
export const WidgetConfigSchema = z.strictObject({
	title: z.string().min(1).max(100).optional(),
	greeting: z.string().min(1).max(1000).optional(),
	color: colour.optional(),
	prechat: z
		.strictObject({
			fields: z
				.array(
					z.strictObject({
						name: z
							.string()
							.regex(/^[A-Za-z][A-Za-z0-9_]{0,39}$/, "letters, digits and _"),
						label: z.string().min(1).max(100),
						required: z.boolean().default(false),
					})
				)
				.max(10)
				.default([]),
		})
		.prefault({}),
	departments: z.array(z.string().min(1).max(100)).max(50).optional(),
	offlineForm: z.boolean().default(true),
	rating: z.boolean().default(true),
});
export type WidgetConfig = z.infer<typeof WidgetConfigSchema>;

/** What KV holds: read as it is, so a site saved before a newer rule keeps working (deliveries check URLs again). */
export const StoredSiteConfigSchema = z
	.strictObject({
		name: z.string().min(1).max(200),
		routing: z
			.strictObject({
				mode: z.enum(["auto", "manual"]).default("auto"),
				sticky: z.boolean().default(true),
			})
			.prefault({}),
		limits: z
			.strictObject({
				maxMessageLength: z
					.number()
					.int()
					.min(1)
					.max(MAX_CONTENT_LENGTH)
					.default(MAX_CONTENT_LENGTH),
				maxTrackedVisitors: z.number().int().min(0).max(100_000).default(1000),
				messagesPerMinutePerVisitor: z
					.number()
					.int()
					.min(1)
					.max(10_000)
					.default(60),
				chatStartsPerMinutePerAddress: z
					.number()
					.int()
					.min(1)
					.max(100_000)
					.default(60),
				socketUpgradesPerMinutePerAddress: z
					.number()
					.int()
					.min(1)
					.max(100_000)
					.default(300),
				socketsPerChat: z.number().int().min(1).max(32).default(32),
				framesPerSecondPerSocket: z.number().int().min(1).max(1000).default(20),
			})
			.prefault({}),
		integrations: z
			.strictObject({
				persistence: z
					.strictObject({ enabled: z.boolean().default(true) })
					.prefault({}),
				email: toggle({
					to: z.array(z.email()).default([]),
					from: z.email().optional(),
				}).prefault({}),
				ticket: toggle({}).prefault({}),
				webhook: toggle({
					url: z.url().optional(),
					secret: z.string().min(16).optional(),
				}).prefault({}),
				salesforce: toggle({
					baseUrl: z.url().optional(),
					accessToken: z.string().optional(),
				}).prefault({}),
				zendesk: toggle({
					baseUrl: z.url().optional(),
					email: z.email().optional(),
					apiToken: z.string().optional(),
				}).prefault({}),
			})
			.prefault({}),
		/** The console's canned answers, picked by typing `/shortcut` (SPEC §9). */
		cannedMessages: z
			.array(
				z.strictObject({
					shortcut: z
						.string()
						.regex(
							/^[A-Za-z0-9_-]{1,32}$/,
							"letters, digits, _ and -, at most 32"
						),
					text: z.string().min(1).max(MAX_CONTENT_LENGTH),
				})
			)
			.max(500)
			.default([]),
		/** What an agent may file a chat under at its wrap-up. */
		wrapupCategories: z.array(z.string().min(1).max(100)).max(100).default([]),
		/** What the widget shows (SPEC §4); anyone may read it (GET …/widget-config), so it holds nothing secret. */
		widget: WidgetConfigSchema.prefault({}),
		/** Pages that may call this site's routes from a browser (CORS, SPEC §6); empty: any page. */
		allowedOrigins: z
			.array(
				z
					.string()
					.max(300)
					.refine(
						isOrigin,
						"an origin: scheme, host and port only, e.g. https://shop.example"
					)
			)
			.max(100)
			.default([]),
	})
	.superRefine((config, ctx) => {
		const { email, webhook, salesforce, zendesk } = config.integrations;
		const need = (enabled: boolean, path: string[], present: boolean) => {
			if (enabled && !present) {
				ctx.addIssue({
					code: "custom",
					path: ["integrations", ...path],
					message: "required when the integration is enabled",
				});
			}
		};
		need(email.enabled, ["email", "to"], email.to.length > 0);
		need(webhook.enabled, ["webhook", "url"], !!webhook.url);
		need(webhook.enabled, ["webhook", "secret"], !!webhook.secret);
		need(salesforce.enabled, ["salesforce", "baseUrl"], !!salesforce.baseUrl);
		need(
			salesforce.enabled,
			["salesforce", "accessToken"],
			!!salesforce.accessToken
		);
		need(zendesk.enabled, ["zendesk", "baseUrl"], !!zendesk.baseUrl);
		need(zendesk.enabled, ["zendesk", "email"], !!zendesk.email);
		need(zendesk.enabled, ["zendesk", "apiToken"], !!zendesk.apiToken);
		config.cannedMessages.forEach(({ shortcut }, i) => {
			if (config.cannedMessages.findIndex((c) => c.shortcut === shortcut) < i) {
				ctx.addIssue({
					code: "custom",
					path: ["cannedMessages", i, "shortcut"],
					message: `/${shortcut} is already taken`,
				});
			}
		});
	});

/** What an admin may save: the stored shape, with integration URLs that pass integrationUrlProblem. */
export const SiteConfigSchema = StoredSiteConfigSchema.superRefine(
	(config, ctx) => {
		const { webhook, salesforce, zendesk } = config.integrations;
		const urls: [string[], string | undefined][] = [
			[["webhook", "url"], webhook.url],
			[["salesforce", "baseUrl"], salesforce.baseUrl],
			[["zendesk", "baseUrl"], zendesk.baseUrl],
		];
		for (const [path, url] of urls) {
			const problem =
				url === undefined ? undefined : integrationUrlProblem(url);
			if (problem)
				ctx.addIssue({
					code: "custom",
					path: ["integrations", ...path],
					message: `the URL ${problem}`,
				});
		}
	}
);

export type SiteConfigInput = z.input<typeof SiteConfigSchema>;
export type SiteConfig = z.infer<typeof SiteConfigSchema>;
