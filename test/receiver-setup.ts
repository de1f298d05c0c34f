/**
 * A real HTTP receiver on loopback for the webhook, Salesforce and Zendesk tests, started in Node
 * before the Workers tests and handed to them with `inject("receiverUrl")`.
 *
 * Each test uses its own first path segment (a fresh id) and scripts the answers in the path:
 * `/<id>/fail-<n>/…` answers 500 to the first n requests, then 201; `/<id>/always-fail/…` always 503;
 * `/<id>/slow-<ms>/…` waits before answering 201; `/<id>/status-<code>/…` always answers that code;
 * anything else answers 201.
 * `GET /_requests/<id>` lists what arrived under that id: method, path, headers, body.
 */
import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import type { TestProject } from "vitest/node";

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
	const server = createServer(async (req, res) => {
		const url = new URL(req.url ?? "/", "http://receiver");
		const [first, second] = url.pathname.split("/").slice(1);
		if (req.method === "GET" && first === "_requests") {
			res.writeHead(200, { "Content-Type": "application/json" });
			return res.end(JSON.stringify(received.get(second ?? "") ?? []));
		}
		const body = await read(req);
		const headers = Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(", ") : (v ?? "")]));
		const list = received.get(first ?? "") ?? [];
		list.push({ method: req.method ?? "", path: url.pathname, headers, body });
		received.set(first ?? "", list);
		const failFirst = /^fail-(\d+)$/.exec(second ?? "");
		const slow = /^slow-(\d+)$/.exec(second ?? "");
		if (second === "always-fail") return res.writeHead(503).end("down for maintenance");
		const status = /^status-(\d{3})$/.exec(second ?? "");
		if (status) return res.writeHead(Number(status[1]), { "Content-Type": "application/json" }).end('[{"errorCode":"INVALID_FIELD"}]');
		if (failFirst && list.length <= Number(failFirst[1])) return res.writeHead(500).end("try later");
		if (slow) await new Promise((r) => setTimeout(r, Number(slow[1])));
		res.writeHead(201, { "Content-Type": "application/json" }).end(JSON.stringify({ id: `rcv-${list.length}`, success: true }));
	});
	await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
	project.provide("receiverUrl", `http://127.0.0.1:${(server.address() as AddressInfo).port}`);
	return () => new Promise<void>((resolve) => server.close(() => resolve()));
}
