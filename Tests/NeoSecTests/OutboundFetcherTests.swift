import Foundation
import ServiceKit
import Testing

/// The address policy and URL shape checks that keep client-supplied URLs (`jwks_uri`,
/// `sector_identifier_uri`, `logo_uri` …) from reaching inside the network. The fetch itself,
/// and that no request leaves for a refused URL, are tested end to end in
/// `Tests/interop/test_registration.py`.
@Suite("Outbound fetcher")
struct OutboundFetcherTests {
    func bytes(_ literal: String) -> [UInt8] { AddressPolicy.literal(literal)! }

    @Test func onlyPublicUnicastAddressesArePublic() {
        for address in ["8.8.8.8", "1.1.1.1", "93.184.216.34", "100.63.255.255", "100.128.0.1", "172.15.255.255", "172.32.0.1", "192.167.1.1",
                        "2606:4700:4700::1111", "2001:4860:4860::8888", "2a00:1450:4007:80e::200e"] {
            #expect(AddressPolicy.isPublic(bytes(address)), "\(address)")
        }
        for address in [
            "0.0.0.0", "0.1.2.3", "10.0.0.1", "10.255.255.255", "127.0.0.1", "127.255.255.254", "100.64.0.1", "100.127.255.255", "169.254.169.254",
            "172.16.0.1", "172.31.255.255", "192.168.0.1", "192.0.0.8", "192.0.2.1", "198.18.0.1", "198.19.255.255", "198.51.100.7",
            "203.0.113.9", "224.0.0.1", "239.255.255.250", "240.0.0.1", "255.255.255.255", "192.88.99.1",
            "::", "::1", "::ffff:127.0.0.1", "::ffff:8.8.8.8", "::127.0.0.1", "64:ff9b::a00:1", "2002:7f00:1::1", "2001:db8::1", "2001:0:4136:e378::1",
            "fc00::1", "fd12:3456::1", "fe80::1", "febf::1", "fec0::1", "ff02::1", "100::1",
        ] {
            #expect(!AddressPolicy.isPublic(bytes(address)), "\(address)")
        }
        #expect(!AddressPolicy.isPublic([1, 2, 3]))
    }

    @Test func literalsAreOnlyCanonicalAddresses() {
        #expect(AddressPolicy.literal("127.0.0.1") == [127, 0, 0, 1])
        #expect(AddressPolicy.literal("[::1]") == Array(repeating: 0, count: 15) + [1])
        for name in ["127.1", "2130706433", "0x7f000001", "0177.0.0.1x", "example.com", "1.2.3.4.5", ""] {
            #expect(AddressPolicy.literal(name) == nil, "\(name)")
        }
        for name in ["127.1", "2130706433", "0x7f000001", "localhost", "LOCALHOST.", "app.localhost", "10.0.0.1.", "1.2.3.0x7f"] {
            #expect(AddressPolicy.isSuspiciousName(name), "\(name)")
        }
        for name in ["example.com", "keys.example.org", "a1.example"] {
            #expect(!AddressPolicy.isSuspiciousName(name), "\(name)")
        }
    }

    @Test func shapesAreCheckedBeforeAnyNetwork() throws {
        let fetcher = OutboundFetcher(mode: .on)
        _ = try fetcher.checkShape("https://keys.example/jwks.json")
        _ = try fetcher.checkShape("https://93.184.216.34/jwks.json")
        for bad in [
            "http://keys.example/jwks.json", "https://127.0.0.1/k", "https://[::1]/k", "https://10.1.2.3/k", "https://169.254.169.254/k",
            "https://localhost/k", "https://2130706433/k", "https://user@keys.example/k", "https://keys.example/k#f", "ftp://keys.example/k",
            "https:///k", "https://keys.example/k\u{7f}", "javascript:alert(1)", "",
        ] {
            #expect(throws: FetchRefusal.self, "\(bad)") { _ = try fetcher.checkShape(bad) }
        }
        // Development mode lets loopback through (http too), and nothing else more.
        let development = OutboundFetcher(mode: .loopback)
        _ = try development.checkShape("http://127.0.0.1:8080/k")
        _ = try development.checkShape("https://localhost/k")
        #expect(throws: FetchRefusal.self) { _ = try development.checkShape("http://10.0.0.1/k") }
        #expect(throws: FetchRefusal.self) { _ = try development.checkShape("http://keys.example/k") }
    }

    @Test func nothingIsFetchedWhenFetchingIsOff() async {
        await #expect(throws: FetchRefusal.self) { _ = try await OutboundFetcher(mode: .off).fetch("https://keys.example/jwks.json") }
        // A refused shape never reaches the resolver or the network.
        await #expect(throws: FetchRefusal.self) { _ = try await OutboundFetcher(mode: .on).fetch("https://127.0.0.1:1/jwks.json") }
    }
}
