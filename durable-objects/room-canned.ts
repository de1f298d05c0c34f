/**
 * SPEC §4, §8: a canned message sent from the console (`canned: "<shortcut>"` in the send) is
 * logged as `cannedMessage.useLog`. Published after the send's write, and never awaited by the
 * send's answer; named by the message id, so however often it goes out it is one event.
 */
import { eventId, publisher } from "../queues/publisher.ts";
import type { ChatMessage } from "../src/protocol/chat.ts";
import type { Caller } from "./room-contract.ts";

export async function publishCannedUse(
	env: Env,
	caller: Caller,
	message: ChatMessage,
	shortcut: string
): Promise<void> {
	const { siteId, chatId } = caller;
	const payload = {
		siteId,
		chatId,
		agentId: caller.id,
		messageId: message.id,
		shortcut,
		sentAt: message.sendTime,
	};
	try {
		await publisher(env, siteId).publish(
			"cannedMessage.useLog",
			eventId("cannedMessage.useLog", [siteId, chatId], message.id),
			payload
		);
	} catch (error) {
		console.error(
			"ChatRoom: cannedMessage.useLog not published",
			chatId,
			error
		);
	}
}
