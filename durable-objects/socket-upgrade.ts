/**
 * The answer that hands the client its end of a socket the object accepted, without per-message
 * compression. Frames are small JSON (a message, an ack, a typing flag), so deflate saves a few
 * hundred bytes at the cost of CPU on every frame and a compressor and decompressor kept per socket
 * (locally a chat with its two sockets took about 1.3 MiB with it, 0.85 MiB without).
 * workerd agrees to permessage-deflate whenever the client offers it (every browser does) unless
 * the answer names its own extensions; an answer that names none of the ones it knows gets plain
 * frames, and the header is not passed on to the client.
 */
export const upgraded = (client: WebSocket) =>
	new Response(null, {
		status: 101,
		webSocket: client,
		headers: { "Sec-WebSocket-Extensions": "no-compression" },
	});
