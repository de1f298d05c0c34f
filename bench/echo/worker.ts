import { DurableObject } from "cloudflare:workers";

interface EchoEnv {
	ECHO: DurableObjectNamespace<Echo>;
}

export class Echo extends DurableObject<EchoEnv> {
	echo(body: string): string {
		return body;
	}
}

/** One DO per path, as the chat service has one per chat. */
export default {
	async fetch(request, env) {
		const name = new URL(request.url).pathname;
		const body = await env.ECHO.get(env.ECHO.idFromName(name)).echo(await request.text());
		return new Response(body, { headers: { "Content-Type": "application/json" } });
	},
} satisfies ExportedHandler<EchoEnv>;
