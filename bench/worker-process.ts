/**
 * The workerd process that runs a local deployment's Worker and Durable Objects. `wrangler dev`
 * starts two: the one on the port it was given is its reload proxy, which forwards every request
 * and socket to the other (Miniflare's, on a port of its own). Memory is read from the second, and
 * the scale figures connect to it directly: the proxy holds about six file descriptors per
 * WebSocket, and 20,000 per process (this machine's hard limit) ran out at 2,000 chats.
 */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";

const listening = () =>
	execFileSync("ss", ["-ltnpH"])
		.toString()
		.split("\n")
		.flatMap((line) => {
			const port = /127\.0\.0\.1:(\d+)\s/.exec(line)?.[1];
			const pid = /pid=(\d+),/.exec(line)?.[1];
			return port && pid ? [{ port: Number(port), pid: Number(pid) }] : [];
		});

const parentOf = (pid: number) =>
	Number(
		readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ")[1]
	);

/** The Worker's workerd: the proxy's sibling (same wrangler parent), and its own HTTP port (not the inspector's). */
export async function workerProcess(
	proxyPort: number
): Promise<{ pid: number; url: string }> {
	const sockets = listening();
	const proxy = sockets.find((s) => s.port === proxyPort);
	if (!proxy) throw new Error(`nothing listens on ${proxyPort}`);
	const parent = parentOf(proxy.pid);
	const candidates = sockets.filter(
		(s) => s.pid !== proxy.pid && parentOf(s.pid) === parent
	);
	for (const { pid, port } of candidates) {
		const url = `http://127.0.0.1:${port}`;
		try {
			const answer = await fetch(`${url}/json/version`, {
				signal: AbortSignal.timeout(2000),
			});
			// The inspector names its browser; the Worker answers the path as one of its own.
			if (!(await answer.text()).includes('"Browser"')) return { pid, url };
		} catch {
			// not HTTP: the runtime's own loopback socket
		}
	}
	throw new Error(`no Worker process behind the proxy on ${proxyPort}`);
}

/** Resident memory of the Worker's process behind the proxy on `proxyPort`. */
export async function residentBytes(proxyPort: number): Promise<number> {
	const { pid } = await workerProcess(proxyPort);
	const status = readFileSync(`/proc/${pid}/status`, "utf8");
	return Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]) * 1024;
}
