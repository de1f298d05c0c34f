/**
 * A room in a fetch function, for client unit tests: the offset protocol and the chain check of
 * SPEC §3 on a ChatLog, the rebuild rules of planRebuild, no macs. Records every call it answers.
 */
import { ChatLog, planRebuild } from "../durable-objects/chat-model.ts";
import { checkCall } from "../src/protocol/offsets.ts";
import { base64url, utf8 } from "../src/security/encoding.ts";
import type {
	ChatMessage,
	Offsets,
	RebuildChat,
	ReturnResult,
} from "../src/protocol/chat.ts";
import type { Chains } from "../src/protocol/offsets.ts";

export interface FakeCall {
	method: string;
	path: string;
	offsets: [number, number];
	chains: [string | undefined, string | undefined];
	code?: number;
	diverged?: string[];
	/** Ids a rebuild uploaded, in upload order. */
	uploaded?: string[];
	body?: unknown;
}

export const SITE = "site-fake";
export const CHAT = "00000000-0000-4000-8000-00000000c4a7";
export const BASE = "http://room.test";

/** Token claims are all the client reads of a token; the fake room checks nothing. */
export const fakeToken = (role: "visitor" | "agent", sub = `${role}-1`) =>
	`x.${base64url(utf8.encode(JSON.stringify({ sub, role })))}.x`;

let sequence = 0;
/** A lower-case UUID that sorts by creation, tagged so that test output stays readable. */
export const messageId = () =>
	`00000000-0000-4000-8000-${(++sequence).toString(16).padStart(12, "0")}`;

export const message = (
	type: 1 | 2 | 4,
	dataOffset: number,
	content: string,
	id = messageId(),
	sendTime = 1_000 + dataOffset
): ChatMessage => ({
	id,
	type,
	dataOffset,
	content,
	sendTime,
	senderId: type === 1 ? "visitor-1" : type === 2 ? "agent-1" : undefined,
	mac: `mac-${id}-${dataOffset}`,
});

export class FakeRoom {
	log: ChatLog;
	lost = false;
	/** What answers carry as chatState (the real room sends it only with news; this one always, unless unset). */
	chatState: string | undefined = "state-1";
	readonly calls: FakeCall[] = [];
	/** Answers to /accept, in order (a Response each). */
	readonly acceptAnswers: Response[] = [];
	private clock = 10_000;

	constructor(messages: ChatMessage[] = []) {
		this.log = new ChatLog(messages);
	}

	readonly fetch: typeof fetch = async (input, init) => {
		const request = new Request(input, init);
		const path = new URL(request.url).pathname.replace(/^.*\/chats\/[^/]+/, "");
		const header = (name: string) => request.headers.get(name) ?? undefined;
		const call: FakeCall = {
			method: request.method,
			path,
			offsets: [
				Number(header("X-Visitor-Data-Offset") ?? 0),
				Number(header("X-Agent-Data-Offset") ?? 0),
			],
			chains: [header("X-Visitor-Chain"), header("X-Agent-Chain")],
		};
		this.calls.push(call);
		if (path === "/accept")
			return (
				this.acceptAnswers.shift() ??
				Response.json(
					{ code: -1, error: { type: "not_found", message: "no answer" } },
					{ status: 404 }
				)
			);
		const answer =
			path === "/rebuild"
				? await this.rebuild(
						call,
						(call.body = await request.json<RebuildChat>())
					)
				: await this.call(call, request);
		call.code = answer.code;
		call.diverged = answer.diverged;
		return Response.json(answer);
	};

	private async call(call: FakeCall, request: Request): Promise<ReturnResult> {
		const offsets = {
			visitorDataOffset: call.offsets[0],
			agentDataOffset: call.offsets[1],
		};
		const refused = await this.compare(offsets, {
			visitorChain: call.chains[0],
			agentChain: call.chains[1],
		});
		if (refused) return refused;
		if (call.path === "/messages" && request.method === "POST") {
			const body = await request.json<{ id: string; content: string }>();
			call.body = body;
			if (!this.log.get(body.id))
				this.log.append({
					...message(
						1,
						this.log.offsets.visitorDataOffset + 1,
						body.content,
						body.id
					),
					sendTime: ++this.clock,
				});
		}
		return this.answer(offsets);
	}

	private async rebuild(
		call: FakeCall,
		body: RebuildChat
	): Promise<ReturnResult> {
		call.uploaded = body.messages.map((m) => m.id);
		if (this.lost) {
			this.lost = false;
			this.log = new ChatLog();
		}
		const plan = planRebuild(this.log, body.messages);
		const moved: ChatMessage[] = [];
		for (const { message: m, resealed } of plan.appends) {
			const stored = resealed
				? { ...m, mac: `mac-${m.id}-${m.dataOffset}` }
				: m;
			this.log.append(stored);
			if (resealed) moved.push(stored);
		}
		const answer = this.answer(body, moved);
		const diverged = await this.log.diverged(body, body);
		if (diverged.length > 0) return { ...answer, code: 1, diverged };
		return plan.heldBack > 0 ? { ...answer, code: 1 } : answer;
	}

	/** Unknown chat, server behind on a stream, or a stream whose chain differs: code 1, nothing applied. */
	private compare(offsets: Offsets, chains: Chains) {
		return checkCall(this.lost ? undefined : this.log, {
			...offsets,
			...chains,
		});
	}

	private answer(offsets: Offsets, include: ChatMessage[] = []): ReturnResult {
		const messages = this.log.above(offsets);
		for (const m of include) if (!messages.includes(m)) messages.push(m);
		return {
			code: 0,
			...this.log.offsets,
			messages,
			...(this.chatState ? { chatState: this.chatState } : {}),
		};
	}
}
