/**
 * The client's side of SPEC §3: every chat call under "rebuild on code 1, then the same call again",
 * the rebuild itself (what to upload comes from the protocol module's planUpload, in chunks, over the
 * socket while one is open), the re-read that takes the room's numbering after a divergence, and the
 * re-read after a move to another deployment.
 */
import { planUpload, rereadPosition } from "../src/protocol/offsets.ts";
import {
	EventAnswerSchema,
	MAX_FRAME_CHARS,
	MAX_REBUILD_MESSAGES,
	ReturnResultSchema,
} from "../src/protocol/wire.ts";
import { asChatError, jsonInit, LiveChatError } from "./http.ts";
import { SocketClosed } from "./socket-session.ts";
import type { ChatMessage, ReturnResult } from "../src/protocol/chat.ts";
import type { RebuildRequest, Stream } from "../src/protocol/offsets.ts";
import type { ChatCopy } from "./chat-copy.ts";
import type { ChatHttp } from "./http.ts";
import type { Reply, SocketSession } from "./socket-session.ts";

const notInChat = (error: unknown) =>
	error instanceof LiveChatError && error.type === "not_in_chat";

/** Enough rounds for a rebuild that another client completes between our attempts. */
const MAX_ROUNDS = 8;

/** One try of a chat call: done, or not yet (after the rebuild the room asked for, if it asked for one). */
export type Attempt<T> = { done: T } | { rebuild?: RebuildRequest };

export class Rebuilder {
	/** One rebuild at a time, shared: a long-poll and a send that both meet code 1 upload once. */
	private rebuilding: Promise<void> | undefined;
	/** The deployment whose versions this copy holds, and whether it must read the chat again from another (notedServer). */
	private servedBy: string | undefined;
	rereadOwed = false;

	constructor(
		private readonly copy: ChatCopy,
		private readonly http: ChatHttp,
		/** The chat's socket, while one is open: rebuilds go over it. */
		private readonly session: () => SocketSession | undefined
	) {}

	/**
	 * One chat call over HTTP under the offset protocol: rebuild on code 1, then the same call again.
	 * Changes the local copy but does not save it: the caller saves once, with its own change.
	 */
	async call(
		request: () => { path: string; init: RequestInit },
		waitMs = 0
	): Promise<{ result: ReturnResult; fresh: ChatMessage[] }> {
		const fresh: ChatMessage[] = [];
		const result = await this.afterRebuilds<ReturnResult>(async () => {
			const { path, init } = request();
			const result = ReturnResultSchema.parse(
				await this.http.request(path, init, await this.copy.position(), waitMs)
			);
			if (result.code !== 0) return { rebuild: rebuildRequestOf(result) };
			fresh.push(...this.copy.absorb(result));
			return { done: result };
		});
		if (this.rereadOwed) fresh.push(...(await this.rereadAll()));
		if (this.copy.displaced.length > 0)
			await this.rebuild(this.copy.log.offsets);
		return { result, fresh };
	}

	/**
	 * An event endpoint (answered `202 {code: 0, id}`). A room that lost the chat answers code 1:
	 * rebuild it, then send the same body (same id, so the event counts once) again.
	 */
	event(path: string, body: Record<string, unknown>): Promise<string> {
		return this.afterRebuilds<string>(async () => {
			const answer = await this.http.request(
				path,
				jsonInit("POST", body),
				await this.copy.position()
			);
			const taken = EventAnswerSchema.safeParse(answer);
			if (taken.success) return { done: taken.data.id };
			return { rebuild: rebuildRequestOf(ReturnResultSchema.parse(answer)) };
		});
	}

	/** The one "rebuild, then try again" loop of every chat call, over HTTP or the socket. */
	async afterRebuilds<T>(attempt: () => Promise<Attempt<T>>): Promise<T> {
		let stateBrought = false;
		for (let round = 0; round < MAX_ROUNDS; round++) {
			let outcome: Attempt<T>;
			try {
				outcome = await attempt();
			} catch (error) {
				// A room on another deployment that has not heard of a transfer to this agent refuses it: the copy's
				// chatState, which names the agent, brings the room up to date (once) before the refusal stands.
				if (stateBrought || !notInChat(error) || !this.copy.chatState)
					throw error;
				stateBrought = true;
				await this.rebuild(this.copy.log.offsets);
				continue;
			}
			if ("done" in outcome) return outcome.done;
			if (outcome.rebuild) await this.rebuild(outcome.rebuild);
		}
		throw new LiveChatError(
			503,
			"rebuild_incomplete",
			"the server is still behind after rebuilding"
		);
	}

	rebuild(request: RebuildRequest): Promise<void> {
		this.rebuilding ??= this.repair(request).finally(() => {
			this.rebuilding = undefined;
		});
		return this.rebuilding;
	}

	/**
	 * Gives the server what it lacks (planUpload), then reads each diverged stream from offset 0 and
	 * takes the room's numbering of it, so that both copies end up identical (SPEC §3).
	 */
	private async repair(request: RebuildRequest): Promise<void> {
		await this.upload(planUpload(this.copy.log, request, this.copy.displaced));
		if (request.diverged?.length) await this.readFromStart(request.diverged);
		await this.copy.persist();
	}

	/**
	 * In chunks of at most 500 (over a socket, of at most a frame), each stream in order. The answers
	 * may still say `diverged`: that holds until readFromStart, so it is not acted on here.
	 */
	private async upload(messages: ChatMessage[]): Promise<void> {
		const session = this.session();
		if (session) {
			try {
				for (const chunk of chunks(messages, MAX_FRAME_CHARS * 0.9)) {
					const reply = await session.request({
						type: "rebuild",
						chatState: this.copy.chatState,
						...(await this.copy.position()),
						messages: chunk,
					});
					if (reply.type === "sync") this.copy.absorb(reply);
				}
				return;
			} catch (error) {
				if (!(error instanceof SocketClosed))
					throw asChatError(error, "/rebuild");
				// The socket went away mid-rebuild: the same upload over HTTP (every step of it is idempotent).
			}
		}
		for (const chunk of chunks(messages, Infinity)) {
			const position = await this.copy.position();
			this.copy.absorb(
				ReturnResultSchema.parse(
					await this.http.request(
						"/rebuild",
						jsonInit("POST", {
							chatState: this.copy.chatState,
							...position,
							messages: chunk,
						}),
						position
					)
				)
			);
		}
	}

	/** A poll that has each diverged stream from offset 0 (no chain for it); the room's placement of every message wins. */
	private async readFromStart(diverged: Stream[]): Promise<void> {
		const read = rereadPosition(await this.copy.position(), diverged);
		const result = ReturnResultSchema.parse(
			await this.http.request("/messages", { method: "GET" }, read)
		);
		// Code 1 here means the room wants more (the other stream): the retried call that follows finds it.
		if (result.code === 0) this.copy.absorb(result);
	}

	/**
	 * Two deployments can each accept one message (a send whose answer was lost, retried on the other)
	 * at different times: same id, same place, so the chains agree, but another sendTime and mac. So
	 * after this client moves to another deployment, it reads the whole chat there once and takes that
	 * deployment's versions, as every client that moves does: the copies end up identical.
	 */
	notedServer(baseUrl: string): void {
		if (this.servedBy !== undefined && this.servedBy !== baseUrl)
			this.rereadOwed = true;
		this.servedBy = baseUrl;
	}

	async rereadAll(): Promise<ChatMessage[]> {
		this.rereadOwed = false;
		const result = ReturnResultSchema.parse(
			await this.http.request(
				"/messages",
				{ method: "GET" },
				{ visitorDataOffset: 0, agentDataOffset: 0 }
			)
		);
		if (result.code !== 0) {
			this.rereadOwed = true; // the room wants a rebuild first: the next call makes it, then reads again
			return [];
		}
		return this.copy.absorb(result);
	}
}

/** The rebuild a reply asks for: a `rebuild` frame or a code 1; none for an ack or a code 0. */
export function rebuildRequestOf(
	reply: Reply | ReturnResult
): RebuildRequest | undefined {
	if (!("type" in reply)) {
		if (reply.code === -1)
			throw new LiveChatError(
				500,
				reply.error?.type ?? "server_error",
				reply.error?.message ?? "the server answered code -1"
			);
		if (reply.code === 0) return undefined;
	} else if (
		reply.type === "ack" ||
		(reply.type === "sync" && reply.code === 0)
	)
		return undefined;
	const { visitorDataOffset, agentDataOffset, diverged } =
		reply as RebuildRequest;
	return { visitorDataOffset, agentDataOffset, diverged };
}

/** Rebuild chunks: at most 500 messages, and (over a socket) at most `maxChars` of JSON. */
function* chunks(
	messages: ChatMessage[],
	maxChars: number
): Generator<ChatMessage[]> {
	let chunk: ChatMessage[] = [];
	let size = 0;
	for (const m of messages) {
		const length = JSON.stringify(m).length + 1;
		if (
			chunk.length === MAX_REBUILD_MESSAGES ||
			(chunk.length > 0 && size + length > maxChars)
		) {
			yield chunk;
			chunk = [];
			size = 0;
		}
		chunk.push(m);
		size += length;
	}
	if (chunk.length > 0 || messages.length === 0) yield chunk;
}
