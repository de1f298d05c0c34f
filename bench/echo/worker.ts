import { DurableObject } from "cloudflare:workers";
import { upgraded } from "../../durable-objects/socket-upgrade.ts";

interface EchoEnv {
	ECHO: DurableObjectNamespace<Echo>;
}

/** The baselines of SPEC §11: a Durable Object that answers at once, over HTTP (RPC) and WebSocket. */
export class Echo extends DurableObject<EchoEnv> {
	echo(body: string): string {
		return body;
	}

	async fetch(): Promise<Response> {
		const [client, server] = Object.values(new WebSocketPair()) as [
			WebSocket,
			WebSocket,
		];
		this.ctx.acceptWebSocket(server); // hibernating, as the chat rooms' sockets are
		// The same transport as the chat's sockets: frames without per-message compression.
		return upgraded(client);
	}

	webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): void {
		ws.send(message);
	}
}

/** One DO per path, as the chat service has one per chat; `/ws/…` upgrades. */
export default {
	async fetch(request, env) {
		const name = new URL(request.url).pathname;
		const stub = env.ECHO.get(env.ECHO.idFromName(name.replace(/^\/ws/, "")));
		if (name.startsWith("/ws/")) return stub.fetch(request);
		return new Response(await stub.echo(await request.text()), {
			headers: { "Content-Type": "application/json" },
		});
	},
} satisfies ExportedHandler<EchoEnv>;
