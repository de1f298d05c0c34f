import { describe, expect, it } from "vitest";
import { clientAddressKey } from "../src/client-address.ts";

describe("clientAddressKey", () => {
	it("keeps an IPv4 address and counts an IPv6 address by its /64", () => {
		expect(clientAddressKey("203.0.113.7")).toBe("203.0.113.7");
		expect(clientAddressKey("2001:db8:0:1::1")).toBe("2001:db8:0:1::/64");
		expect(clientAddressKey("2001:0DB8:0000:0001:ffff:ffff:ffff:ffff")).toBe(
			"2001:db8:0:1::/64"
		);
		expect(clientAddressKey("2001:db8::")).toBe("2001:db8:0:0::/64");
		expect(clientAddressKey("::1")).toBe("0:0:0:0::/64");
		expect(clientAddressKey("fe80::1%eth0")).toBe("fe80:0:0:0::/64");
		expect(clientAddressKey("64:ff9b::192.0.2.33")).toBe("64:ff9b:0:0::/64");
	});

	it("reads an IPv4-mapped IPv6 address as the IPv4 address", () => {
		expect(clientAddressKey("::ffff:198.51.100.4")).toBe("198.51.100.4");
		expect(clientAddressKey("::ffff:c633:6404")).toBe("198.51.100.4");
	});

	it("takes the CF-Connecting-IP header of a request or headers", () => {
		const headers = new Headers({
			"CF-Connecting-IP": "2001:db8:aa:bb:1:2:3:4",
		});
		expect(clientAddressKey(headers)).toBe("2001:db8:aa:bb::/64");
		expect(clientAddressKey(new Request("http://x/", { headers }))).toBe(
			"2001:db8:aa:bb::/64"
		);
		expect(clientAddressKey(new Request("http://x/"))).toBe("unknown");
	});

	it('is "unknown" for anything that is not an address', () => {
		for (const value of [
			null,
			undefined,
			"",
			" ",
			"localhost",
			"256.1.1.1",
			"1.2.3",
			"01.2.3.4",
			"2001:db8::1::2",
			"1:2:3:4:5:6:7:8:9",
			"2001:db8:::1",
			"12345::",
			"::ffff:1.2.3.4.5",
		]) {
			expect(clientAddressKey(value), String(value)).toBe("unknown");
		}
	});
});
