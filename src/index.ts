import { consumeBatch } from "../queues/consumer.ts";
import { cleanUp } from "../queues/retention.ts";
import { apiCors } from "./cors.ts";
import { ApiError } from "./errors.ts";
import { apiDocument } from "./openapi-document.ts";
import { Api } from "./openapi.ts";
import { admin } from "./routes/admin.ts";
import { agents } from "./routes/agents.ts";
import { chatActions } from "./routes/chat-actions.ts";
import { chatStart } from "./routes/chat-start.ts";
import { chats } from "./routes/chats.ts";
import { consoleConfig } from "./routes/console-config.ts";
import { debug } from "./routes/debug.ts";
import { dispatch } from "./routes/dispatch.ts";
import { events } from "./routes/events.ts";
import { history } from "./routes/history.ts";
import { visitorTools } from "./routes/visitor-tools.ts";
import { visitors } from "./routes/visitors.ts";
import { widgetConfig } from "./routes/widget-config.ts";

export { ChatRoom } from "../durable-objects/chat-room.ts";
export { AbuseCounter } from "../durable-objects/abuse-counter.ts";
export { SiteDispatcher } from "../durable-objects/site-dispatcher.ts";

export const routes = new Api()
	.route("/", chatStart)
	.route("/", chats)
	.route("/", agents)
	.route("/", dispatch)
	.route("/", chatActions)
	.route("/", events)
	.route("/", history)
	.route("/", visitors)
	.route("/", visitorTools)
	.route("/", consoleConfig)
	.route("/", widgetConfig)
	.route("/admin", admin)
	.route("/debug", debug);

// The document describes itself too: mounted among the routes it lists.
routes.route("/", apiDocument(routes));

export const app = new Api()
	.basePath("/v1")
	.use(apiCors)
	.route("/", routes)
	.notFound((c) =>
		c.json(new ApiError(404, "not_found", "no such endpoint").toBody(), 404)
	)
	.onError((err, c) => {
		if (err instanceof ApiError) {
			if (err.retryAfter !== undefined)
				c.header("Retry-After", String(err.retryAfter));
			return c.json(err.toBody(), err.status);
		}
		// A Durable Object reset under a call (eviction, restart, deploy) is transient: the client's retry finds it again.
		if (isTransientObjectError(err)) {
			c.header("Retry-After", "1");
			return c.json(
				{
					code: -1,
					error: {
						type: "unavailable",
						message: "the chat was restarting, try again",
					},
				},
				503
			);
		}
		console.error(`${c.req.method} ${new URL(c.req.url).pathname}:`, err);
		return c.json(
			{
				code: -1,
				error: { type: "internal_error", message: "something went wrong" },
			},
			500
		);
	});

export default {
	fetch: app.fetch,
	queue: consumeBatch,
	async scheduled(_controller, env) {
		console.log("retention:", await cleanUp(env));
	},
} satisfies ExportedHandler<Env>;

/** Errors a Durable Object stub throws when the object was reset or is overloaded (they carry these flags). */
function isTransientObjectError(err: unknown): boolean {
	const flags = err as {
		durableObjectReset?: boolean;
		retryable?: boolean;
		overloaded?: boolean;
	};
	return (
		flags.durableObjectReset === true ||
		flags.retryable === true ||
		flags.overloaded === true
	);
}
