/**
 * The client address that per-address limits count by (SPEC §6): `CF-Connecting-IP` as Cloudflare
 * sets it, an IPv4 address as it is and an IPv6 address by its /64, since one subscriber usually
 * holds a whole /64 and could otherwise take a fresh address for every request.
 */

/** `"203.0.113.7"`, `"2001:db8:0:1::/64"`, or `"unknown"` when the header is missing or not an address (local runs). */
export function clientAddressKey(
	from: Request | Headers | string | null | undefined
): string {
	const raw =
		from instanceof Request
			? from.headers.get("CF-Connecting-IP")
			: from instanceof Headers
				? from.get("CF-Connecting-IP")
				: from;
	const address = raw?.trim().toLowerCase();
	if (!address) return "unknown";
	if (IPV4.test(address)) return address;
	const groups = ipv6Groups(address);
	if (!groups) return "unknown";
	// An IPv4-mapped address (::ffff:a.b.c.d) is that IPv4 address.
	if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
		return [
			groups[6]! >> 8,
			groups[6]! & 0xff,
			groups[7]! >> 8,
			groups[7]! & 0xff,
		].join(".");
	}
	return `${groups
		.slice(0, 4)
		.map((g) => g.toString(16))
		.join(":")}::/64`;
}

const IPV4 =
	/^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const HEXTET = /^[0-9a-f]{1,4}$/;

/** The eight 16-bit groups of an IPv6 address (`::` expanded, a trailing dotted IPv4 read as two groups), or undefined. */
function ipv6Groups(address: string): number[] | undefined {
	const zoneless = address.split("%")[0]!;
	const halves = zoneless.split("::");
	if (halves.length > 2) return undefined;
	const parse = (part: string): number[] | undefined => {
		if (part === "") return [];
		const groups: number[] = [];
		const pieces = part.split(":");
		for (const [i, piece] of pieces.entries()) {
			if (i === pieces.length - 1 && IPV4.test(piece)) {
				const [a, b, c, d] = piece.split(".").map(Number) as [
					number,
					number,
					number,
					number,
				];
				groups.push((a << 8) | b, (c << 8) | d);
			} else if (HEXTET.test(piece)) {
				groups.push(parseInt(piece, 16));
			} else {
				return undefined;
			}
		}
		return groups;
	};
	const head = parse(halves[0]!);
	const tail = halves.length === 2 ? parse(halves[1]!) : [];
	if (!head || !tail) return undefined;
	const missing = 8 - head.length - tail.length;
	if (halves.length === 2 ? missing < 1 : missing !== 0) return undefined;
	return [...head, ...new Array<number>(missing).fill(0), ...tail];
}
