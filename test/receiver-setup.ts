import { createServer } from "node:http";
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { TestProject } from "vitest/node";

/**
 * A real HTTP receiver on loopback for the webhook, Salesforce and Zendesk tests, started in Node
 * before the Workers tests and handed to them with `inject("receiverUrl")`.
 *
 * Each test uses its own first path segment (a fresh id) and scripts the answers in the path:
 * `/<id>/fail-<n>/…` answers 500 to the first n requests, then 201; `/<id>/always-fail/…` always 503;
 * `/<id>/slow-<ms>/…` waits before answering 201; `/<id>/status-<code>/…` always answers that code;
 * `/<id>/redirect-<code>/…` answers that 3xx with a Location on another origin (the same receiver on
 * a second port, so a followed redirect would arrive and be listed, under `/<id>/ok/redirected/…`);
 * `/<id>/endless-<code>/…` answers that code with a body that never ends;
 * anything else answers 201.
 * `GET /_requests/<id>` lists what arrived under that id: method, path, headers, body.
 */

declare module "vitest" {
	export interface ProvidedContext {
		receiverUrl: string;
	}
}

export interface ReceivedRequest {
	method: string;
	path: string;
	headers: Record<string, string>;
	body: string;
}

const read = (req: IncomingMessage) =>
	new Promise<string>((resolve, reject) => {
		const chunks: Buffer[] = [];
		req.on("data", (c: Buffer) => chunks.push(c));
		req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
		req.on("error", reject);
	});

export default async function setup(project: TestProject) {
	const received = new Map<string, ReceivedRequest[]>();
	let otherOrigin = "";
	const handle = async (req: IncomingMessage, res: ServerResponse) => {
		const url = new URL(req.url ?? "/", "http://receiver");
		const [first, second] = url.pathname.split("/").slice(1);
		if (req.method === "GET" && first === "_requests") {
			res.writeHead(200, { "Content-Type": "application/json" });
			return res.end(JSON.stringify(received.get(second ?? "") ?? []));
		}
		const body = await read(req);
		const headers = Object.fromEntries(
			Object.entries(req.headers).map(([k, v]) => [
				k,
				Array.isArray(v) ? v.join(", ") : (v ?? ""),
			])
		);
		const list = received.get(first ?? "") ?? [];
		list.push({ method: req.method ?? "", path: url.pathname, headers, body });
		received.set(first ?? "", list);
		const failFirst = /^fail-(\d+)$/.exec(second ?? "");
		const slow = /^slow-(\d+)$/.exec(second ?? "");
		if (second === "always-fail")
			return res.writeHead(503).end("down for maintenance");
		const redirect = /^redirect-(3\d\d)$/.exec(second ?? "");
		if (redirect) {
			const rest = url.pathname.split("/").slice(3).join("/");
			return res
				.writeHead(Number(redirect[1]), {
					Location: `${otherOrigin}/${first}/ok/redirected/${rest}`,
				})
				.end();
		}
		const endless = /^endless-(\d{3})$/.exec(second ?? "");
		if (endless) {
			res.writeHead(Number(endless[1]), { "Content-Type": "text/plain" });
			const chunk = "x".repeat(16 * 1024);
			let stopped = false;
			res.on("close", () => (stopped = true));
			// At the reader's pace (a client that stops reading stops it), and over after 30 s whatever happens.
			const pump = () => {
				if (stopped) return;
				if (res.write(chunk)) setTimeout(pump, 5);
				else res.once("drain", pump);
			};
			pump();
			setTimeout(() => ((stopped = true), res.end()), 30_000).unref();
			return;
		}
		const status = /^status-(\d{3})$/.exec(second ?? "");
		if (status)
			return res
				.writeHead(Number(status[1]), { "Content-Type": "application/json" })
				.end('[{"errorCode":"INVALID_FIELD"}]');
		if (failFirst && list.length <= Number(failFirst[1]))
			return res.writeHead(500).end("try later");
		if (slow) await new Promise((r) => setTimeout(r, Number(slow[1])));
		res
			.writeHead(201, { "Content-Type": "application/json" })
			.end(JSON.stringify({ id: `rcv-${list.length}`, success: true }));
	};
	const listen = async () => {
		const server = createServer(handle);
		await new Promise<void>((resolve) =>
			server.listen(0, "127.0.0.1", resolve)
		);
		return {
			server,
			origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
		};
	};
	const [main, other] = [await listen(), await listen()];
	otherOrigin = other.origin;
	project.provide("receiverUrl", main.origin);
	const close = (server: Server) =>
		new Promise<void>((resolve) => server.close(() => resolve()));
	return async () => {
		// An endless answer still being written would hold close() open.
		for (const { server } of [main, other]) server.closeAllConnections();
		await Promise.all([close(main.server), close(other.server)]);
	};
}
