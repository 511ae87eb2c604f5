import ArgumentParser
import AsyncHTTPClient
import Crypto
import Foundation
import JOSE
import NIOCore
import NIOHTTP1
import ServiceKit
import WireModels

/// `neosec demo …`: walks through a flow against a running suite (`neosec up`), printing each
/// request and answer as a client would see them.
struct Demo: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Walk through a flow against a running suite.", subcommands: [UMA.self, Chain.self])

    /// `neosec demo uma`: Alice shares a document with Bob (UMA 2.0), end to end.
    struct UMA: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Alice shares a document with Bob: request_submitted, Alice approves, Bob reads, Alice revokes, Bob is refused."
        )

        @Option(name: .customLong("data-dir"), help: "The data directory of the running `neosec up` (for the demo clients' secrets).")
        var dataDirectory = "./.neosec"

        func run() async throws {
            let urls = DemoURLs(environment: ProcessInfo.processInfo.environment)
            guard let data = FileManager.default.contents(atPath: dataDirectory + "/fixtures.json"),
                let web = try JSONDecoder().decode([DemoFixtures.Client].self, from: data).first(where: { $0.clientID == "demo-web" })?.clientSecret
            else { throw ValidationError("no demo-web client in \(dataDirectory)/fixtures.json: is `neosec up` running with this data directory?") }
            let client = DemoClient(urls: urls, clientID: "demo-web", secret: web)

            step("1. Alice signs in (code + PKCE through the login and consent pages) and creates a document")
            let alice = try await client.signIn("alice", password: "alice-demo-password", scope: "openid documents:read documents:write")
            let title = "Trip plan " + RandomToken.make(bytes: 3)
            let created = try await client.json(.POST, urls.resource + "/api/documents", token: alice.accessToken, body: ["title": title, "content": "Lisbon in May."])
            guard created.status == 201, let documentID = created.object["id"] as? String else { throw DemoFailure("creating the document answered \(created.status)") }
            say("   POST /api/documents → 201, id \(documentID) (registered at the UMA service as Alice's resource)")

            step("2. Bob's client asks for it with Bob's token: an UMA challenge")
            let bob = try await client.signIn("bob", password: "bob-demo-password", scope: "openid documents:read")
            var ticket = try await client.challenge(urls.resource + "/api/documents/" + documentID, token: bob.accessToken)
            say("   GET /api/documents/\(documentID) → 401 WWW-Authenticate: UMA realm=…, as_uri=\"\(urls.token)\", ticket=\"\(ticket.prefix(16))…\"")

            step("3. Bob's client redeems the ticket with Bob's ID token as claims")
            var answer = try await client.umaGrant(["ticket": ticket, "claim_token": bob.idToken ?? "", "claim_token_format": umaIDTokenFormat])
            say("   POST /oauth2/token (uma-ticket) → \(answer.status) \(answer.object["error"] ?? "")")
            guard answer.status == 403, answer.object["error"] as? String == "request_submitted", let next = answer.object["ticket"] as? String else {
                throw DemoFailure("expected request_submitted")
            }
            ticket = next

            step("4. Alice approves the pending request (policy API; the account page has the same Allow button)")
            let policies = try await client.signIn("alice", password: "alice-demo-password", scope: "uma:policies", resource: urls.uma)
            let pending = try await client.json(.GET, urls.uma + "/uma/requests", token: policies.accessToken)
            guard let request = (pending.object["requests"] as? [[String: Any]])?.first(where: { $0["resource_name"] as? String == title }),
                let requestID = request["id"] as? String
            else { throw DemoFailure("Alice sees no pending request") }
            say("   GET /uma/requests → Bob (sub \(request["requesting_party"] ?? "?")) asks for \(request["scopes"] ?? "?") on \"\(title)\"")
            let decided = try await client.json(.POST, urls.uma + "/uma/requests/" + requestID, token: policies.accessToken, body: ["decision": "allow"])
            say("   POST /uma/requests/\(requestID) {\"decision\":\"allow\"} → \(decided.status)")

            step("5. Bob's client retries with the last ticket, gets an RPT and reads the document")
            answer = try await client.umaGrant(["ticket": ticket])
            guard answer.status == 200, let rpt = answer.object["access_token"] as? String, let pct = answer.object["pct"] as? String else {
                throw DemoFailure("expected an RPT, got \(answer.status)")
            }
            say("   POST /oauth2/token (uma-ticket) → 200 RPT \(rpt.prefix(14))…, pct \(pct.prefix(14))…")
            let read = try await client.json(.GET, urls.resource + "/api/documents/" + documentID, token: rpt)
            say("   GET /api/documents/\(documentID) with the RPT → \(read.status) \"\(read.object["title"] ?? "")\"")
            guard read.status == 200 else { throw DemoFailure("the RPT did not open the document") }

            step("6. Alice withdraws Bob's access; his RPT is refused, and so is his next request")
            let resources = try await client.json(.GET, urls.uma + "/uma/resources", token: policies.accessToken)
            let resourceID = (resources.object["resources"] as? [[String: Any]])?.first { $0["name"] as? String == title }?["_id"] as? String
            let listed = try await client.json(.GET, urls.uma + "/uma/policies", token: policies.accessToken)
            guard let resourceID, let policy = (listed.object["policies"] as? [[String: Any]])?.first(where: { $0["resource_id"] as? String == resourceID }),
                let policyID = policy["id"] as? String
            else {
                throw DemoFailure("Alice has no policy to withdraw")
            }
            let removed = try await client.json(.DELETE, urls.uma + "/uma/policies/" + policyID, token: policies.accessToken)
            say("   DELETE /uma/policies/\(policyID) → \(removed.status)")
            var status = 200
            for _ in 0..<30 {
                status = try await client.json(.GET, urls.resource + "/api/documents/" + documentID, token: rpt).status
                if status != 200 { break }
                try await Task.sleep(for: .milliseconds(500))
            }
            say("   GET /api/documents/\(documentID) with the old RPT → \(status) (revocation reaches the resource server within 10 s)")
            let again = try await client.challenge(urls.resource + "/api/documents/" + documentID, token: nil)
            answer = try await client.umaGrant(["ticket": again, "pct": pct])
            say("   POST /oauth2/token (uma-ticket, pct) → \(answer.status) \(answer.object["error"] ?? "")")
            guard status == 401, answer.object["error"] as? String == "request_denied" else { throw DemoFailure("access was not withdrawn") }
            step("Done: UMA request, approval, RPT, withdrawal.")
        }

        func step(_ text: String) { say("\n" + text) }
    }
}

struct DemoFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

struct DemoURLs {
    var token: String
    var authn: String
    var uma: String
    var resource: String

    init(environment: [String: String]) {
        func url(_ service: ServiceName) -> String {
            let name = service.shortName.uppercased()
            if let url = environment["NEOSEC_\(name)_URL"], !url.isEmpty { return url.hasSuffix("/") ? String(url.dropLast()) : url }
            return "http://127.0.0.1:\(environment["NEOSEC_\(name)_PORT"] ?? String(service.defaultPort))"
        }
        token = url(.token)
        authn = url(.authn)
        uma = url(.uma)
        resource = url(.resource)
    }
}

/// The demo's client and browser: a confidential client (`client_secret_basic`) and a cookie
/// jar that fills in NeoSec's own login and consent forms.
struct DemoClient {
    let urls: DemoURLs
    let clientID: String
    let secret: String

    struct Answer {
        var status: Int
        var headers: HTTPHeaders
        var body: String
        var object: [String: Any] { (try? JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any]) ?? [:] }
    }

    /// Redirects are followed by hand: the browser part must stop at the client's redirect URI.
    static let http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: HTTPClient.Configuration(redirectConfiguration: .disallow))

    struct Tokens {
        var accessToken: String
        var idToken: String?
    }

    final class Jar {
        var cookies: [String: String] = [:]
        func take(_ headers: HTTPHeaders) {
            for value in headers["Set-Cookie"] {
                let pair = value.split(separator: ";", maxSplits: 1)[0].split(separator: "=", maxSplits: 1).map(String.init)
                guard pair.count == 2 else { continue }
                if pair[1].isEmpty || value.lowercased().contains("max-age=0") { cookies[pair[0]] = nil } else { cookies[pair[0]] = pair[1] }
            }
        }
        var header: String { cookies.map { "\($0.key)=\($0.value)" }.joined(separator: "; ") }
    }

    func send(_ method: HTTPMethod, _ url: String, headers: [(String, String)] = [], body: String? = nil, jar: Jar? = nil) async throws -> Answer {
        var request = HTTPClientRequest(url: url)
        request.method = method
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let jar, !jar.cookies.isEmpty { request.headers.add(name: "Cookie", value: jar.header) }
        if let body { request.body = .bytes(ByteBuffer(string: body)) }
        let response = try await Self.http.execute(request, timeout: .seconds(30))
        let bytes = try await response.body.collect(upTo: 4 << 20)
        jar?.take(response.headers)
        if ProcessInfo.processInfo.environment["NEOSEC_DEMO_TRACE"] != nil {
            FileHandle.standardError.write(Data("  [\(method) \(url.prefix(90)) → \(response.status.code)]\n".utf8))
        }
        return Answer(status: Int(response.status.code), headers: response.headers, body: String(buffer: bytes))
    }

    func json(_ method: HTTPMethod, _ url: String, token: String, body: [String: String]? = nil) async throws -> Answer {
        var headers = [("Authorization", "Bearer " + token)]
        var text: String?
        if let body {
            headers.append(("Content-Type", "application/json"))
            text = String(decoding: try JSONSerialization.data(withJSONObject: body), as: UTF8.self)
        }
        return try await send(method, url, headers: headers, body: text)
    }

    var basic: (String, String) { ("Authorization", "Basic " + Data("\(Self.form(clientID)):\(Self.form(secret))".utf8).base64EncodedString()) }

    func umaGrant(_ parameters: [String: String]) async throws -> Answer {
        let body = (["grant_type": umaTicketGrantType].merging(parameters) { $1 }).map { "\(Self.form($0.key))=\(Self.form($0.value))" }.joined(separator: "&")
        return try await send(.POST, urls.token + "/oauth2/token", headers: [basic, ("Content-Type", "application/x-www-form-urlencoded")], body: body)
    }

    /// The ticket of the UMA challenge the resource server answers with.
    func challenge(_ url: String, token: String?) async throws -> String {
        let answer = try await send(.GET, url, headers: token.map { [("Authorization", "Bearer " + $0)] } ?? [])
        guard answer.status == 401, let header = answer.headers["WWW-Authenticate"].first(where: { $0.hasPrefix("UMA ") }),
            let range = header.range(of: "ticket=\"")
        else { throw DemoFailure("expected an UMA challenge, got \(answer.status)") }
        return String(header[range.upperBound...].prefix { $0 != "\"" })
    }

    /// Code + PKCE through the real login (and consent) pages.
    func signIn(_ username: String, password: String, scope: String, resource: String? = nil) async throws -> Tokens {
        let redirect = DemoFixtures.webRedirect
        let verifier = RandomToken.make(bytes: 32)
        let challenge = Base64URL.encode(Array(SHA256.hash(data: Array(verifier.utf8))))
        var query = [
            ("response_type", "code"), ("client_id", clientID), ("redirect_uri", redirect), ("scope", scope), ("state", RandomToken.make(bytes: 8)),
            ("code_challenge", challenge), ("code_challenge_method", "S256"),
        ]
        if let resource { query.append(("resource", resource)) }
        let jar = Jar()
        var answer = try await send(.GET, urls.token + "/oauth2/authorize?" + query.map { "\($0.0)=\(Self.form($0.1))" }.joined(separator: "&"), jar: jar)
        var location: String?
        var filledLogin = false
        for _ in 0..<12 {
            if (300..<400).contains(answer.status), let next = answer.headers["Location"].first {
                let absolute = URL(string: next, relativeTo: URL(string: urls.authn))!.absoluteString
                if absolute.hasPrefix(redirect) {
                    location = absolute
                    break
                }
                answer = try await send(.GET, absolute, jar: jar)
                continue
            }
            guard answer.status == 200 else { throw DemoFailure("sign-in page answered \(answer.status)") }
            var fields = Self.hiddenFields(answer.body)
            if answer.body.contains("name=\"password\"") && !filledLogin {
                fields += [("username", username), ("password", password)]
                filledLogin = true
                answer = try await send(.POST, urls.authn + "/login", headers: [("Content-Type", "application/x-www-form-urlencoded")], body: Self.encode(fields), jar: jar)
            } else if answer.body.contains("name=\"consent_challenge\"") {
                fields += Self.checkedScopes(answer.body).map { ("scope", $0) } + [("decision", "allow")]
                answer = try await send(.POST, urls.authn + "/consent", headers: [("Content-Type", "application/x-www-form-urlencoded")], body: Self.encode(fields), jar: jar)
            } else {
                throw DemoFailure("unexpected page during sign-in")
            }
        }
        guard let location, let code = URLComponents(string: location)?.queryItems?.first(where: { $0.name == "code" })?.value else {
            throw DemoFailure("sign-in did not return a code")
        }
        let body = Self.encode([("grant_type", "authorization_code"), ("code", code), ("redirect_uri", redirect), ("code_verifier", verifier)])
        let token = try await send(.POST, urls.token + "/oauth2/token", headers: [basic, ("Content-Type", "application/x-www-form-urlencoded")], body: body)
        guard token.status == 200, let access = token.object["access_token"] as? String else { throw DemoFailure("code redemption answered \(token.status)") }
        return Tokens(accessToken: access, idToken: token.object["id_token"] as? String)
    }

    static func hiddenFields(_ html: String) -> [(String, String)] {
        matches(html, #"<input type="hidden" name="([^"]+)" value="([^"]*)">"#).map { ($0[0], unescape($0[1])) }
    }

    static func checkedScopes(_ html: String) -> [String] {
        matches(html, #"name="scope" value="([^"]+)" checked"#).map { unescape($0[0]) }
    }

    static func matches(_ text: String, _ pattern: String) -> [[String]] {
        guard let regex = try? NSRegularExpression(pattern: pattern) else { return [] }
        let range = NSRange(text.startIndex..., in: text)
        return regex.matches(in: text, range: range).map { match in
            (1..<match.numberOfRanges).compactMap { Range(match.range(at: $0), in: text).map { String(text[$0]) } }
        }
    }

    static func unescape(_ text: String) -> String {
        text.replacingOccurrences(of: "&quot;", with: "\"").replacingOccurrences(of: "&#39;", with: "'").replacingOccurrences(of: "&lt;", with: "<")
            .replacingOccurrences(of: "&gt;", with: ">").replacingOccurrences(of: "&amp;", with: "&")
    }

    static func encode(_ pairs: [(String, String)]) -> String { pairs.map { "\(form($0.0))=\(form($0.1))" }.joined(separator: "&") }

    static func form(_ text: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return text.addingPercentEncoding(withAllowedCharacters: allowed) ?? text
    }
}
