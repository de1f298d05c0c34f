/**
 * A room's WebSockets (SPEC §5, §6): the upgrade with its limits, hello, every frame checked and
 * turned into the same chat operations HTTP uses, and the room's answers turned into frames.
 */
import { z } from "zod";
import { ApiError } from "../src/errors.ts";
import { parseJsonText } from "../src/protocol/json-text.ts";
import {
	ClientFrameSchema,
	CLOSE_FORBIDDEN,
	CLOSE_LIMIT,
	CLOSE_UNAUTHORIZED,
	HELLO_TIMEOUT_MS,
	HelloFrameSchema,
	MAX_FRAME_CHARS,
	MAX_HELLO_CHARS,
} from "../src/protocol/ws.ts";
import { keyRing } from "../src/security/keys.ts";
import { isRevoked } from "../src/security/revocation.ts";
import { verifyToken } from "../src/security/tokens.ts";
import { parseFrame } from "./frame-text.ts";
import {
	callerOf,
	objectName,
	roomAddress,
	tokenMisfit,
} from "./room-contract.ts";
import {
	attachmentOf,
	errorFrame,
	replyFrame,
	sendFrame,
} from "./room-sockets.ts";
import { upgraded } from "./socket-upgrade.ts";
import type {
	Offsets,
	RebuildChat,
	SendMessage,
} from "../src/protocol/chat.ts";
import type { ClientFrame, HelloFrame } from "../src/protocol/ws.ts";
import type { Chains } from "./chat-chain.ts";
import type { Caller, RoomAnswer } from "./room-contract.ts";
import type { RoomCore } from "./room-core.ts";
import type { RoomSockets, SocketAttachment } from "./room-sockets.ts";

/** The site's socket limits (SPEC §6), read by the Worker from the site's configuration. */
export const ROOM_SOCKETS_LIMIT_HEADER = "X-Room-Sockets-Limit";
export const ROOM_FRAMES_LIMIT_HEADER = "X-Room-Frames-Limit";
const SocketLimitsSchema = z.object({
	socketsPerChat: z.coerce.number().int().positive(),
	framesPerSecond: z.coerce.number().int().positive(),
});

/** What the socket code needs of its room: the chat, and its operations under the same rules as over HTTP. */
export interface FrameRoom {
	core: RoomCore;
	poll(caller: Caller, offsets: Offsets, chains: Chains): Promise<RoomAnswer>;
	send(
		caller: Caller,
		offsets: Offsets,
		chains: Chains,
		body: SendMessage,
		origin: WebSocket
	): Promise<RoomAnswer>;
	rebuild(
		caller: Caller,
		body: RebuildChat,
		origin: WebSocket
	): Promise<RoomAnswer>;
}

export class RoomFrames {
	/** Memory mode: a room that woke up without its chat tells its sockets once. */
	private lossAnnounced = false;

	constructor(
		private readonly room: FrameRoom,
		private readonly sockets: RoomSockets,
		private readonly ctx: DurableObjectState,
		private readonly env: Env
	) {}

	/** Accepts a socket handed over by the Worker, within the site's sockets per chat; it must say hello in time. */
	async upgrade(request: Request): Promise<Response> {
		const address = roomAddress(objectName(this.ctx, request));
		const limits = SocketLimitsSchema.safeParse({
			socketsPerChat: request.headers.get(ROOM_SOCKETS_LIMIT_HEADER),
			framesPerSecond: request.headers.get(ROOM_FRAMES_LIMIT_HEADER),
		});
		if (
			request.headers.get("Upgrade") !== "websocket" ||
			!address ||
			!limits.success
		) {
			return new Response("expected a WebSocket upgrade", { status: 426 });
		}
		if (this.sockets.openCount() >= limits.data.socketsPerChat) {
			const body = new ApiError(
				429,
				"rate_limited",
				`at most ${limits.data.socketsPerChat} sockets per chat`
			).toBody();
			return Response.json(body, {
				status: 429,
				headers: { "Retry-After": "30" },
			});
		}
		const [client, server] = Object.values(new WebSocketPair()) as [
			WebSocket,
			WebSocket,
		];
		this.ctx.acceptWebSocket(server);
		const now = this.sockets.clock.now();
		server.serializeAttachment({
			...address,
			connectedAt: now,
			framesPerSecond: limits.data.framesPerSecond,
		} satisfies SocketAttachment);
		await this.room.core.parts.scheduleAlarm(now + HELLO_TIMEOUT_MS);
		return upgraded(client);
	}

	/** Every frame of the room's sockets: a failure is logged, and the client gets a clean error frame. */
	async receive(ws: WebSocket, raw: string | ArrayBuffer): Promise<void> {
		try {
			await this.handle(ws, raw);
		} catch (error) {
			console.error("ChatRoom:webSocketMessage", error);
			sendFrame(ws, errorFrame("internal_error", "something went wrong"));
		}
	}

	private async handle(
		ws: WebSocket,
		raw: string | ArrayBuffer
	): Promise<void> {
		const caller = this.sockets.callerOf(ws);
		// Before hello a socket may say nothing else: no token has vouched for it yet.
		if (!caller) return this.beforeHello(ws, raw);
		if (this.sockets.overFrameRate(ws))
			return this.sockets.close(ws, CLOSE_LIMIT, "too many frames");
		if (await this.revoked(caller))
			return this.sockets.close(ws, CLOSE_UNAUTHORIZED, "token revoked");
		if (typeof raw !== "string")
			return sendFrame(
				ws,
				errorFrame("invalid_request", "frames are JSON text")
			);
		if (raw.length > MAX_FRAME_CHARS)
			return sendFrame(
				ws,
				errorFrame(
					"payload_too_large",
					`frames are at most ${MAX_FRAME_CHARS} characters`
				)
			);
		const parsed = parseFrame(ClientFrameSchema, raw);
		if (!parsed.ok)
			return sendFrame(ws, errorFrame("invalid_request", parsed.message));
		const frame = parsed.value;
		if (frame.type === "hello")
			return sendFrame(
				ws,
				errorFrame("invalid_request", "hello was already said")
			);
		this.announceLoss(ws);
		await this.dispatch(ws, caller, frame);
	}

	private async beforeHello(
		ws: WebSocket,
		raw: string | ArrayBuffer
	): Promise<void> {
		const text =
			typeof raw === "string" && raw.length <= MAX_HELLO_CHARS
				? parseJsonText(raw)
				: undefined;
		const hello = text?.ok ? HelloFrameSchema.safeParse(text.value) : undefined;
		if (!hello?.success)
			return this.sockets.close(ws, CLOSE_UNAUTHORIZED, "hello first");
		this.announceLoss(ws);
		await this.hello(ws, attachmentOf(ws), hello.data);
	}

	/** A room that woke up without its chat (memory mode) asks every socket for a full rebuild, once. */
	private announceLoss(except: WebSocket): void {
		if (this.room.core.meta !== undefined || this.lossAnnounced) return;
		this.lossAnnounced = true;
		for (const ws of this.sockets.authenticated().keys()) {
			if (ws !== except)
				sendFrame(ws, {
					type: "rebuild",
					visitorDataOffset: -1,
					agentDataOffset: -1,
				});
		}
	}

	private async hello(
		ws: WebSocket,
		attachment: SocketAttachment,
		frame: HelloFrame
	): Promise<void> {
		const claims = await verifyToken(keyRing(this.env), frame.token);
		if (!claims || tokenMisfit(claims, attachment.siteId, attachment.chatId))
			return this.sockets.close(ws, CLOSE_UNAUTHORIZED, "invalid token");
		const caller = callerOf(claims, attachment.siteId, attachment.chatId);
		if (await this.revoked(caller))
			return this.sockets.close(ws, CLOSE_UNAUTHORIZED, "token revoked");
		const { core } = this.room;
		// A caller who may not read the chat at all is refused its hello.
		const refused =
			core.meta &&
			(core.authorize(caller, core.meta) ??
				core.membership(caller, core.meta, "read"));
		if (refused && "failure" in refused)
			return this.sockets.close(ws, CLOSE_FORBIDDEN, refused.failure.type);
		const expiresAt = claims.exp * 1000;
		this.sockets.admit(ws, { ...attachment, caller, expiresAt });
		await core.parts.scheduleAlarm(expiresAt);
		replyFrame(ws, await this.room.poll(caller, frame, frame));
	}

	private async dispatch(
		ws: WebSocket,
		caller: Caller,
		frame: Exclude<ClientFrame, { type: "hello" }>
	): Promise<void> {
		switch (frame.type) {
			case "send": {
				// Without offsets the socket holds what the room holds: it was sent every message as it was accepted.
				const held = this.room.core.log.offsets;
				const offsets = {
					visitorDataOffset: frame.visitorDataOffset ?? held.visitorDataOffset,
					agentDataOffset: frame.agentDataOffset ?? held.agentDataOffset,
				};
				const answer = await this.room.send(
					caller,
					offsets,
					frame,
					frame.message,
					ws
				);
				if ("failure" in answer || answer.code !== 0)
					return replyFrame(ws, answer);
				const own = this.room.core.log.get(frame.message.id)!;
				return sendFrame(ws, {
					type: "ack",
					id: own.id,
					dataOffset: own.dataOffset,
					sendTime: own.sendTime,
					mac: own.mac,
				});
			}
			case "rebuild": {
				const { type: _type, ...body } = frame;
				return replyFrame(ws, await this.room.rebuild(caller, body, ws));
			}
			case "typing":
			case "read":
				// A monitoring supervisor is invisible (SPEC §4): its typing and reading go nowhere.
				if (
					caller.role === "agent" &&
					!this.room.core.meta?.agentIds.includes(caller.id)
				)
					return;
				// Relayed only when it tells the others something new (SPEC §6: coalesced).
				if (!this.sockets.worthRelaying(ws, frame)) return;
				for (const other of this.sockets.authenticated().keys()) {
					if (other !== ws)
						sendFrame(other, {
							...frame,
							role: caller.role,
							senderId: caller.id,
						});
				}
		}
	}

	/** An agent's socket stops working once the admin revoked its tokens or this one signed out (SPEC §6, §7); both are cached per isolate. */
	private revoked(caller: Caller): Promise<boolean> {
		if (caller.role !== "agent" || caller.tokenVersion === undefined)
			return Promise.resolve(false);
		return isRevoked(this.env, {
			role: "agent",
			sid: caller.siteId,
			sub: caller.id,
			tv: caller.tokenVersion,
			jti: caller.tokenId,
		});
	}
}
