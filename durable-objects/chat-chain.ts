/**
 * The per-stream chain of SPEC §3: `chain(0) = ""`, `chain(n)` = base64url (no padding) of the
 * first 16 bytes of SHA-256 over the UTF-8 of `chain(n−1) + id(n)`. Equal offsets do not prove
 * equal histories; equal chains do. Pure (Web Crypto only), shared by the room and the clients.
 */
import type { ChatMessage } from "../src/protocol/chat.ts";

/** What a caller sends: its chain at its offset on each stream (absent = not checked, old clients; never at offset 0). */
export interface Chains {
	visitorChain?: string;
	agentChain?: string;
}

export const CHAIN_LENGTH = 22;
export const CHAIN_PATTERN = /^[A-Za-z0-9_-]{22}$/;

const utf8 = new TextEncoder();

export async function chainStep(previous: string, id: string): Promise<string> {
	const digest = new Uint8Array(
		await crypto.subtle.digest("SHA-256", utf8.encode(previous + id))
	);
	let binary = "";
	for (let i = 0; i < 16; i++) binary += String.fromCharCode(digest[i]!);
	return btoa(binary)
		.replaceAll("+", "-")
		.replaceAll("/", "_")
		.replace(/=+$/, "");
}

/**
 * Chains of one stream, computed lazily from its messages and cached: `cut(offset)` forgets every
 * chain from that offset on when the message there changes. Only a contiguous prefix has chains.
 */
export class StreamChains {
	/** Index n holds chain(n). */
	private chains: string[] = [""];

	constructor(
		private readonly messageAt: (offset: number) => ChatMessage | undefined
	) {}

	/** The message at `offset` changed (appended, placed, cleared). */
	cut(offset: number): void {
		if (this.chains.length > offset) this.chains.length = Math.max(1, offset);
	}

	/** chain(offset); throws when a message below it is missing (a client's copy with a hole). */
	async at(offset: number): Promise<string> {
		for (;;) {
			const chains = this.chains;
			if (offset < chains.length) return chains[offset]!;
			const n = chains.length;
			const message = this.messageAt(n);
			if (!message)
				throw new Error(`no message at offset ${n}: no chain there`);
			const next = await chainStep(chains[n - 1]!, message.id);
			// Another change may have cut the cache while the digest ran: keep the step only if it still holds.
			if (chains.length === n && this.messageAt(n) === message)
				chains.push(next);
		}
	}
}
