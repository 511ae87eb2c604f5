import AsyncHTTPClient
public import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL

#if canImport(Glibc)
import Glibc
#endif

/// Which destination addresses an outbound fetch of a client-supplied URL may reach. Anything a
/// request from inside the network could abuse is refused: loopback, private (RFC 1918, unique
/// local), link-local (cloud metadata at 169.254.169.254), carrier-grade NAT, "this network",
/// multicast, broadcast, reserved and documentation ranges, and IPv6 forms that embed such an
/// IPv4 address (mapped, compatible, NAT64, 6to4).
public enum AddressPolicy {
    /// True when `bytes` (4 or 16 octets) is a public unicast address.
    public static func isPublic(_ bytes: [UInt8]) -> Bool {
        switch bytes.count {
        case 4: return isPublicIPv4(bytes)
        case 16: return isPublicIPv6(bytes)
        default: return false
        }
    }

    public static func isLoopback(_ bytes: [UInt8]) -> Bool {
        switch bytes.count {
        case 4: return bytes[0] == 127
        case 16: return bytes == Array(repeating: 0, count: 15) + [1] || (isMappedIPv4(bytes) && bytes[12] == 127)
        default: return false
        }
    }

    static func isPublicIPv4(_ a: [UInt8]) -> Bool {
        let (b0, b1, b2) = (a[0], a[1], a[2])
        switch b0 {
        case 0, 10, 127: return false  // this network, private, loopback
        case 100 where (64...127).contains(b1): return false  // carrier-grade NAT (RFC 6598)
        case 169 where b1 == 254: return false  // link-local, cloud metadata
        case 172 where (16...31).contains(b1): return false  // private
        case 192 where b1 == 168: return false  // private
        case 192 where b1 == 0 && (b2 == 0 || b2 == 2): return false  // IETF protocol assignments, TEST-NET-1
        case 192 where b1 == 88 && b2 == 99: return false  // 6to4 relay anycast
        case 198 where b1 == 18 || b1 == 19: return false  // benchmarking
        case 198 where b1 == 51 && b2 == 100: return false  // TEST-NET-2
        case 203 where b1 == 0 && b2 == 113: return false  // TEST-NET-3
        case 224...255: return false  // multicast, reserved, broadcast
        default: return true
        }
    }

    static func isMappedIPv4(_ a: [UInt8]) -> Bool {
        a[0..<10].allSatisfy { $0 == 0 } && a[10] == 0xff && a[11] == 0xff
    }

    static func isPublicIPv6(_ a: [UInt8]) -> Bool {
        if a[0..<12].allSatisfy({ $0 == 0 }) { return false }  // ::, ::1, IPv4-compatible
        if isMappedIPv4(a) { return false }  // ::ffff:a.b.c.d — judged as IPv4 would be, and refused outright
        if a[0] == 0x00, a[1] == 0x64, a[2] == 0xff, a[3] == 0x9b { return false }  // 64:ff9b::/96 NAT64
        if a[0] == 0x20, a[1] == 0x02 { return false }  // 2002::/16 6to4 embeds an IPv4 address
        if a[0] == 0x20, a[1] == 0x01, a[2] == 0x0d, a[3] == 0xb8 { return false }  // documentation
        if a[0] == 0x20, a[1] == 0x01, a[2] == 0x00, a[3] == 0x00 { return false }  // Teredo
        if a[0] & 0xfe == 0xfc { return false }  // unique local fc00::/7
        if a[0] == 0xfe, a[1] & 0xc0 == 0x80 { return false }  // link-local fe80::/10
        if a[0] == 0xfe, a[1] & 0xc0 == 0xc0 { return false }  // site-local (deprecated)
        if a[0] == 0xff { return false }  // multicast
        return a[0] & 0xe0 == 0x20  // global unicast 2000::/3 only
    }

    /// The octets of an IP literal (dotted IPv4 in its four-part form only, or IPv6, brackets
    /// allowed), or nil for a name. Shorthand IPv4 (`127.1`, `2130706433`, octal) is not an address
    /// here — and `isSuspiciousName` refuses it as a host name.
    public static func literal(_ host: String) -> [UInt8]? {
        var text = host
        if text.hasPrefix("[") && text.hasSuffix("]") { text = String(text.dropFirst().dropLast()) }
        var v4 = in_addr()
        if text.utf8.allSatisfy({ ($0 >= 48 && $0 <= 57) || $0 == 46 }), text.split(separator: ".", omittingEmptySubsequences: false).count == 4,
            inet_pton(AF_INET, text, &v4) == 1
        {
            return withUnsafeBytes(of: &v4) { Array($0) }
        }
        var v6 = in6_addr()
        if text.contains(":"), inet_pton(AF_INET6, text, &v6) == 1 {
            return withUnsafeBytes(of: &v6) { Array($0) }
        }
        return nil
    }

    /// Host names that are addresses in disguise or name the machine itself: all-numeric or
    /// hexadecimal-looking labels (`2130706433`, `0x7f.1`, `127.1`), `localhost` and its subdomains.
    public static func isSuspiciousName(_ host: String) -> Bool {
        let lowered = host.lowercased().trimmingCharacters(in: CharacterSet(charactersIn: "."))
        if lowered == "localhost" || lowered.hasSuffix(".localhost") || lowered.isEmpty { return true }
        if literal(host) != nil { return false }
        let labels = lowered.split(separator: ".")
        guard let last = labels.last else { return true }
        // A real DNS name's last label (its TLD) is never all digits nor 0x….
        return last.allSatisfy(\.isNumber) || last.hasPrefix("0x")
    }
}

/// Why an outbound URL was refused; `description` is safe to show the registrant.
public struct FetchRefusal: Error, CustomStringConvertible, Equatable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Fetches client-supplied URLs (a client's `jwks_uri`, `sector_identifier_uri`) without letting
/// them reach inside the network (SSRF):
///
/// - `https` only (plus `http` to loopback in `allowLoopback` development mode, for local tests);
///   no user info, no fragment; the host must not be an IP literal outside public unicast, nor a
///   numeric or `localhost` name.
/// - The name is resolved here, every address must be public, and the connection is pinned to the
///   first vetted address (AsyncHTTPClient `dnsOverride`; TLS still verifies the name), so a DNS
///   answer that changes between check and connect (rebinding) cannot redirect it.
/// - No redirects, 5 s timeout, a size cap, and nothing fetched at all when fetching is off.
public struct OutboundFetcher: Sendable {
    public enum Mode: String, Sendable {
        /// Fetch public https URLs.
        case on
        /// Refuse every metadata that would need a fetch.
        case off
        /// Development and tests only: loopback destinations (http or https) are allowed too.
        case loopback
    }

    public let mode: Mode
    let trustRoots: String?

    public init(mode: Mode, trustRoots: String? = nil) {
        self.mode = mode
        self.trustRoots = trustRoots
    }

    /// The checks that need no network: scheme, host shape, literal addresses.
    public func checkShape(_ text: String) throws(FetchRefusal) -> URLComponents {
        guard text.utf8.count <= 2048, let components = URLComponents(string: text), let scheme = components.scheme?.lowercased(),
            let host = components.host, !host.isEmpty, components.user == nil, components.password == nil, components.fragment == nil,
            text.unicodeScalars.allSatisfy({ $0.value > 0x20 && $0.value < 0x7F })
        else { throw FetchRefusal("must be an absolute https URL without user info or fragment") }
        let loopbackTarget = AddressPolicy.literal(host).map(AddressPolicy.isLoopback) ?? (host.lowercased() == "localhost")
        if mode == .loopback && loopbackTarget {
            guard scheme == "https" || scheme == "http" else { throw FetchRefusal("must be an https URL") }
            return components
        }
        guard scheme == "https" else { throw FetchRefusal("must be an https URL") }
        if let address = AddressPolicy.literal(host) {
            guard AddressPolicy.isPublic(address) else { throw FetchRefusal("must not point to a loopback, private, link-local or reserved address") }
        } else if AddressPolicy.isSuspiciousName(host) {
            throw FetchRefusal("must not point to a loopback, private, link-local or reserved address")
        }
        return components
    }

    /// Fetches `text` (GET, `Accept: application/json`), at most `limit` bytes of a 200 answer.
    public func fetch(_ text: String, limit: Int = 64 * 1024) async throws(FetchRefusal) -> Data {
        try await perform(text, method: .GET, headers: [("Accept", "application/json")], body: nil, limit: limit, accepted: [200])
    }

    /// POSTs a JSON body to `text` (a client's notification endpoint) under the same rules; any
    /// 2xx answer is success, its body is ignored.
    public func postJSON(_ text: String, body: Data, bearer: String?) async throws(FetchRefusal) {
        var headers = [("Content-Type", "application/json")]
        if let bearer { headers.append(("Authorization", "Bearer " + bearer)) }
        _ = try await perform(text, method: .POST, headers: headers, body: body, limit: 4096, accepted: Set(200...299))
    }

    func perform(
        _ text: String, method: HTTPMethod, headers: [(String, String)], body: Data?, limit: Int, accepted: Set<UInt>
    ) async throws(FetchRefusal) -> Data {
        guard mode != .off else { throw FetchRefusal("fetching URLs is disabled on this server") }
        let components = try checkShape(text)
        let host = components.host!
        let port = components.port ?? (components.scheme?.lowercased() == "https" ? 443 : 80)
        let address: String
        if let literal = AddressPolicy.literal(host) {
            address = Self.format(literal)
        } else {
            let resolved: [[UInt8]]
            do {
                resolved = try await Self.resolve(host, port: port)
            } catch {
                throw FetchRefusal("its host name does not resolve")
            }
            let loopbackAllowed = mode == .loopback && host.lowercased() == "localhost"
            guard let first = resolved.first,
                resolved.allSatisfy({ AddressPolicy.isPublic($0) || (loopbackAllowed && AddressPolicy.isLoopback($0)) })
            else { throw FetchRefusal("its host name resolves to a loopback, private, link-local or reserved address") }
            address = Self.format(first)
        }
        var configuration = HTTPClient.Configuration(redirectConfiguration: .disallow, timeout: .init(connect: .seconds(5), read: .seconds(5)))
        configuration.dnsOverride = [host: address]
        if let trustRoots, let roots = try? NIOSSLCertificate.fromPEMFile(trustRoots) {
            var tls = TLSConfiguration.makeClientConfiguration()
            tls.additionalTrustRoots = [.certificates(roots)]
            configuration.tlsConfiguration = tls
        }
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        defer { client.shutdown { _ in } }
        var request = HTTPClientRequest(url: text)
        request.method = method
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let body { request.body = .bytes(ByteBuffer(bytes: body)) }
        do {
            let response = try await client.execute(request, timeout: .seconds(5))
            guard accepted.contains(response.status.code) else { throw FetchRefusal("answered \(response.status.code)") }
            let body = try await response.body.collect(upTo: limit)
            return Data(buffer: body)
        } catch let refusal as FetchRefusal {
            throw refusal
        } catch {
            throw FetchRefusal("could not be fetched (connection, TLS, timeout or size)")
        }
    }

    static func format(_ bytes: [UInt8]) -> String {
        var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        let family = bytes.count == 4 ? AF_INET : AF_INET6
        _ = bytes.withUnsafeBytes { raw in inet_ntop(family, raw.baseAddress, &buffer, socklen_t(buffer.count)) }
        return String(cString: buffer)
    }

    /// Every address `host` resolves to, via getaddrinfo on NIO's blocking-I/O pool.
    static func resolve(_ host: String, port: Int) async throws -> [[UInt8]] {
        try await NIOThreadPool.singleton.runIfActive {
            var hints = addrinfo()
            hints.ai_family = AF_UNSPEC
            hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
            var result: UnsafeMutablePointer<addrinfo>?
            guard getaddrinfo(host, String(port), &hints, &result) == 0, let first = result else { throw FetchRefusal("unresolvable") }
            defer { freeaddrinfo(first) }
            var addresses: [[UInt8]] = []
            var cursor: UnsafeMutablePointer<addrinfo>? = first
            while let entry = cursor {
                if let address = entry.pointee.ai_addr {
                    switch Int32(address.pointee.sa_family) {
                    case AF_INET:
                        address.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { v4 in
                            var value = v4.pointee.sin_addr
                            addresses.append(withUnsafeBytes(of: &value) { Array($0) })
                        }
                    case AF_INET6:
                        address.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { v6 in
                            var value = v6.pointee.sin6_addr
                            addresses.append(withUnsafeBytes(of: &value) { Array($0) })
                        }
                    default: break
                    }
                }
                cursor = entry.pointee.ai_next
            }
            return addresses
        }
    }
}
