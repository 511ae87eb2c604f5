public import AsyncHTTPClient
public import Foundation
import NIOCore
import NIOHTTP1
import Synchronization

/// A minimal browser for end-to-end tests: a cookie jar per origin, no redirects followed on
/// its own, and a reader for the hidden and named fields of HTML forms.
public final class TestBrowser: Sendable {
    public struct Page: Sendable {
        public var status: Int
        public var headers: [(String, String)]
        public var body: String
        public func header(_ name: String) -> String? { headers.first { $0.0.lowercased() == name.lowercased() }?.1 }
        public var location: String? { header("Location") }
    }

    private let jar = Mutex<[String: [String: String]]>([:])
    /// A browser follows redirects; this one lets the test look at each hop.
    static let client: HTTPClient = {
        var configuration = HTTPClient.Configuration()
        configuration.redirectConfiguration = .disallow
        return HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }()

    public init() {}

    static func origin(_ url: String) -> String {
        guard let components = URLComponents(string: url) else { return url }
        return "\(components.host ?? ""):\(components.port ?? 80)"
    }

    public func cookies(for url: String) -> [String: String] { jar.withLock { $0[Self.origin(url)] ?? [:] } }

    public func get(_ url: String) async throws -> Page {
        try await send(url, method: .GET, form: nil)
    }

    public func post(_ url: String, form: [(String, String)]) async throws -> Page {
        try await send(url, method: .POST, form: form)
    }

    func send(_ url: String, method: HTTPMethod, form: [(String, String)]?) async throws -> Page {
        var request = HTTPClientRequest(url: url)
        request.method = method
        let cookies = cookies(for: url)
        if !cookies.isEmpty {
            request.headers.add(name: "Cookie", value: cookies.map { "\($0.key)=\($0.value)" }.joined(separator: "; "))
        }
        if let form {
            request.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
            request.body = .bytes(ByteBuffer(string: Self.encode(form)))
        }
        let response = try await Self.client.execute(request, timeout: .seconds(30))
        let body = try await response.body.collect(upTo: 4 << 20)
        for value in response.headers["Set-Cookie"] {
            let pair = value.split(separator: ";", maxSplits: 1)[0].split(separator: "=", maxSplits: 1)
            guard pair.count == 2 else { continue }
            let name = String(pair[0]).trimmingCharacters(in: .whitespaces)
            let cookieValue = String(pair[1])
            let expired = value.lowercased().contains("max-age=0")
            jar.withLock { jar in
                var origin = jar[Self.origin(url)] ?? [:]
                origin[name] = expired || cookieValue.isEmpty ? nil : cookieValue
                jar[Self.origin(url)] = origin
            }
        }
        return Page(status: Int(response.status.code), headers: response.headers.map { ($0.name, $0.value) }, body: String(buffer: body))
    }

    public static func encode(_ form: [(String, String)]) -> String {
        var allowed = CharacterSet.alphanumerics.intersection(CharacterSet(charactersIn: Unicode.Scalar(0)...Unicode.Scalar(127)))
        allowed.insert(charactersIn: "-._~")
        return form.map { "\($0.0)=\($0.1.addingPercentEncoding(withAllowedCharacters: allowed) ?? "")" }.joined(separator: "&")
    }

    /// The value of the first `<input name="…" value="…">` in `html`.
    public static func inputValue(_ name: String, in html: String) -> String? {
        for tag in tags("input", in: html) where attribute("name", of: tag) == name {
            return attribute("value", of: tag).map(unescape) ?? ""
        }
        return nil
    }

    /// The values of every `<input type="checkbox" name="…">` in `html`, with whether it is checked.
    public static func checkboxes(_ name: String, in html: String) -> [(value: String, checked: Bool)] {
        tags("input", in: html).filter { attribute("name", of: $0) == name && attribute("type", of: $0) == "checkbox" }.map { tag in
            (unescape(attribute("value", of: tag) ?? ""), tag.range(of: #"\schecked(\s|=|>|/)"#, options: .regularExpression) != nil)
        }
    }

    public static func tags(_ element: String, in html: String) -> [String] {
        var result: [String] = []
        var rest = html[...]
        while let start = rest.range(of: "<\(element)", options: .caseInsensitive) {
            guard let end = rest[start.upperBound...].firstIndex(of: ">") else { break }
            result.append(String(rest[start.lowerBound...end]))
            rest = rest[rest.index(after: end)...]
        }
        return result
    }

    public static func attribute(_ name: String, of tag: String) -> String? {
        guard let range = tag.range(of: #"\s\#(name)="([^"]*)""#, options: .regularExpression) else { return nil }
        let match = String(tag[range])
        guard let open = match.firstIndex(of: "\"") else { return nil }
        return String(match[match.index(after: open)..<match.index(before: match.endIndex)])
    }

    static func unescape(_ text: String) -> String {
        text.replacingOccurrences(of: "&quot;", with: "\"").replacingOccurrences(of: "&#39;", with: "'").replacingOccurrences(of: "&lt;", with: "<")
            .replacingOccurrences(of: "&gt;", with: ">").replacingOccurrences(of: "&#x2F;", with: "/").replacingOccurrences(of: "&#x3D;", with: "=")
            .replacingOccurrences(of: "&amp;", with: "&")
    }
}
