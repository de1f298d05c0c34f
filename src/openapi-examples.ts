/**
 * The API document's examples (SPEC §4): what /docs' "Try it out" sends. Each works as it is against
 * a deployment with the demo data (SPEC §12: site `demo`, agents `demo-agent-1`, `demo-agent-2`),
 * given the token the call needs. Without an example, Swagger UI makes one from the schema and sends
 * `"string"` for every string, which no sealed value (visitorState, chatState) ever is: so every
 * request body has one here, and none holds a sealed field. A body that needs a sealed value says in
 * its description where it comes from.
 */
import type {
	OpenAPIObject,
	OperationObject,
	ParameterObject,
	RequestBodyObject,
} from "openapi3-ts/oas31";

/** Path parameters that have a working value on every deployment with the demo data. */
const PARAMETER_EXAMPLES: Record<string, string> = {
	siteId: "demo",
	agentId: "demo-agent-2",
};

/** Ids are the caller's, so that a retried call counts once: any UUID will do. */
const ID = "3f1c2a4e-8b7d-4c7a-9f0e-2d5b6a1c9e47";

/** Request bodies by `method path` as the routes declare them (below /v1). */
export const BODY_EXAMPLES: Record<string, unknown> = {
	"post /sites/{siteId}/chats": {
		visitor: { name: "Vera Visitor", email: "vera@example.com" },
		customVariables: { cart: "2 tents" },
	},
	"post /sites/{siteId}/chats/{chatId}/messages": {
		id: ID,
		content: "Hello! Is the blue tent waterproof?",
	},
	"post /sites/{siteId}/chats/{chatId}/rebuild": {
		visitorDataOffset: 0,
		agentDataOffset: 0,
		messages: [],
	},
	"post /sites/{siteId}/chats/{chatId}/rating": {
		id: ID,
		rating: 5,
		comment: "Quick and helpful.",
	},
	"post /sites/{siteId}/chats/{chatId}/wrapup": {
		id: ID,
		category: "Shipping",
		comment: "Parcel delayed at the depot",
	},
	"post /sites/{siteId}/chats/{chatId}/invite": { agentId: "demo-agent-2" },
	"post /sites/{siteId}/chats/{chatId}/transfer": {
		toAgentId: "demo-agent-2",
	},
	"post /sites/{siteId}/offline-messages": {
		name: "Olga",
		email: "olga@example.com",
		message: "Do you ship to Norway?",
	},
	"post /sites/{siteId}/visits": {
		page: "https://shop.example/tents",
		title: "Tents",
		referrer: "https://search.example/?q=tent",
	},
	"post /sites/{siteId}/conversions": { name: "purchase", value: 129.9 },
	"post /sites/{siteId}/agent-sessions": {
		email: "agent@demo.local",
		password: "demo-password",
	},
	"put /sites/{siteId}/agents/me/status": { status: "online" },
	"put /sites/{siteId}/agents/me/preferences": {
		sound: true,
		notifications: false,
	},
	"post /sites/{siteId}/agents/{agentId}/messages": {
		content: "Could you take the next chat? I am on a call.",
	},
	"post /sites/{siteId}/visitors/{visitorId}/invite": {
		message: "Hi! Can I help you find the right tent?",
	},
	"post /sites/{siteId}/visitors/{visitorId}/ban": {
		reason: "Abusive messages",
		minutes: 1440,
	},
	// The demo site's own configuration (scripts/seed-demo.mjs): trying it out changes nothing.
	"put /admin/sites/{siteId}": {
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
			{
				shortcut: "bye",
				text: "Thanks for chatting with us. Have a great day!",
			},
		],
		wrapupCategories: [
			"Billing",
			"Shipping",
			"Returns",
			"Product question",
			"Other",
		],
	},
	"post /admin/sites/{siteId}/agents": {
		email: "agent3@demo.local",
		name: "Third Agent",
		password: "demo-password",
		maxChats: 5,
	},
	"patch /admin/sites/{siteId}/agents/{agentId}": { maxChats: 6 },
};

/** What a body needs beyond its example: the sealed values, which only the API hands out. */
const BODY_NOTES: Record<string, string> = {
	"post /sites/{siteId}/conversions":
		"Add `visitorState`: the sealed state `POST /v1/sites/{siteId}/visits` answered (the widget keeps it).",
};

/** The document with the examples in place; `paths` are the document's own (`/v1/…`). */
export function withExamples(document: OpenAPIObject): OpenAPIObject {
	for (const [path, item] of Object.entries(document.paths ?? {})) {
		const declared = path.replace(/^\/v1/, "");
		for (const [method, operation] of Object.entries(item) as [
			string,
			OperationObject,
		][]) {
			for (const parameter of (operation.parameters ?? []) as ParameterObject[])
				if (parameter.in === "path" && PARAMETER_EXAMPLES[parameter.name])
					parameter.example = PARAMETER_EXAMPLES[parameter.name];
			const body = operation.requestBody as RequestBodyObject | undefined;
			const media = body?.content["application/json"];
			const key = `${method} ${declared}`;
			if (media && key in BODY_EXAMPLES) media.example = BODY_EXAMPLES[key];
			if (body && BODY_NOTES[key]) body.description = BODY_NOTES[key];
		}
	}
	return document;
}
