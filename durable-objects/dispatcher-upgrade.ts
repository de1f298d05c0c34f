import { HELLO_TIMEOUT_MS } from "../src/protocol/ws.ts";
import { upgraded } from "./socket-upgrade.ts";

/**
 * A socket the Worker handed over to the dispatcher, accepted with its tag (consoles and page
 * sockets share the object) and its first attachment. It must say hello within HELLO_TIMEOUT_MS
 * (SPEC §6): the alarm comes by then.
 */
export function acceptTagged(
	ctx: DurableObjectState,
	request: Request,
	tag: string,
	attach: (ws: WebSocket) => void
): Response {
	if (request.headers.get("Upgrade")?.toLowerCase() !== "websocket")
		return new Response("expected a WebSocket upgrade", { status: 426 });
	const { 0: client, 1: server } = new WebSocketPair();
	ctx.acceptWebSocket(server, [tag]);
	attach(server);
	const deadline = Date.now() + HELLO_TIMEOUT_MS;
	ctx.waitUntil(
		ctx.storage
			.getAlarm()
			.then((at) =>
				at === null || at > deadline
					? ctx.storage.setAlarm(deadline)
					: undefined
			)
	);
	return upgraded(client);
}
