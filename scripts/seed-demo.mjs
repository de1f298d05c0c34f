// The demo data of `npm start` (SPEC §12): site `demo` (canned messages, wrap-up categories),
// agents `agent@demo.local` and `agent2@demo.local` and supervisor `supervisor@demo.local`, put in
// through the admin API of the running deployment.

const READY_TIMEOUT_MS = 60_000;

export const DEMO_SITE = "demo";
// Schema defaults otherwise: routing auto and sticky, persistence on, every other integration off.
const DEMO_SITE_CONFIG = {
	name: "Demo site",
	cannedMessages: [
		{
			shortcut: "hi",
			text: "Hello! Thanks for reaching out. How can I help you today?",
		},
		{
			shortcut: "wait",
			text: "Let me look into that for you, one moment please.",
		},
		{
			shortcut: "order",
			text: "Could you give me your order number? It starts with a # and is in your confirmation email.",
		},
		{ shortcut: "bye", text: "Thanks for chatting with us. Have a great day!" },
	],
	wrapupCategories: [
		"Billing",
		"Shipping",
		"Returns",
		"Product question",
		"Other",
	],
};
const DEMO_PASSWORD = "demo-password";
// Fixed ids (SPEC §12): the same on every deployment, so a failover deployment takes the primary's agent tokens as its own.
const DEMO_AGENTS = [
	{
		id: "demo-agent-1",
		email: "agent@demo.local",
		name: "Demo Agent",
		password: DEMO_PASSWORD,
		maxChats: 5,
	},
	{
		id: "demo-agent-2",
		email: "agent2@demo.local",
		name: "Second Agent",
		password: DEMO_PASSWORD,
		maxChats: 5,
	},
	{
		id: "demo-supervisor",
		email: "supervisor@demo.local",
		name: "Demo Supervisor",
		password: DEMO_PASSWORD,
		maxChats: 5,
		role: "supervisor",
	},
];

/** Calls the admin API of the deployment on `port`. */
export const adminApi = (port, token) =>
	async function api(method, path, body) {
		const res = await fetch(`http://127.0.0.1:${port}/v1${path}`, {
			method,
			headers: {
				Authorization: `Bearer ${token}`,
				...(body ? { "Content-Type": "application/json" } : {}),
			},
			body: body ? JSON.stringify(body) : undefined,
			signal: AbortSignal.timeout(10_000),
		});
		return { status: res.status, text: await res.text() };
	};

/**
 * The demo site as the deployment first answers for it (the probe `seed` takes), or null when
 * `running()` turns false first.
 */
export async function waitUntilUp(api, port, running) {
	const deadline = Date.now() + READY_TIMEOUT_MS;
	for (;;) {
		if (!running()) return null;
		try {
			return await api("GET", `/admin/sites/${DEMO_SITE}`);
		} catch {
			// not listening yet
		}
		if (Date.now() > deadline)
			throw new Error(
				`server did not answer on port ${port} within ${READY_TIMEOUT_MS / 1000}s`
			);
		await new Promise((r) => setTimeout(r, 250));
	}
}

/** Creates what is missing of the demo site and its agents; leaves alone what exists. */
export async function seed(api, probe, log) {
	// Site config lives in KV (in STATE_DIR): create it when missing, leave an existing one alone
	// so that changes made through the admin API survive a restart.
	if (probe.status === 404) {
		await putSite(api, DEMO_SITE_CONFIG);
		log(`created site "${DEMO_SITE}"`);
	} else if (probe.status !== 200) {
		throw new Error(
			`GET /v1/admin/sites/${DEMO_SITE} -> ${probe.status} ${probe.text}`
		);
	} else {
		// A demo site seeded before it had canned messages and wrap-up categories gets them; one that has any keeps its own.
		const current = JSON.parse(probe.text);
		if (!current.cannedMessages?.length && !current.wrapupCategories?.length) {
			const { cannedMessages, wrapupCategories } = DEMO_SITE_CONFIG;
			await putSite(api, { ...current, cannedMessages, wrapupCategories });
			log(
				`added canned messages and wrap-up categories to site "${DEMO_SITE}"`
			);
		}
	}
	// An existing agent (409) is left as it is.
	for (const agent of DEMO_AGENTS) {
		const post = await api("POST", `/admin/sites/${DEMO_SITE}/agents`, agent);
		if (post.status === 201)
			log(`created ${agent.role ?? "agent"} ${agent.email}`);
		else if (post.status !== 409)
			throw new Error(
				`POST /v1/admin/sites/${DEMO_SITE}/agents -> ${post.status} ${post.text}`
			);
	}
}

async function putSite(api, config) {
	const put = await api("PUT", `/admin/sites/${DEMO_SITE}`, config);
	if (put.status !== 200)
		throw new Error(
			`PUT /v1/admin/sites/${DEMO_SITE} -> ${put.status} ${put.text}`
		);
}
