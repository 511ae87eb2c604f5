import ArgumentParser
import Foundation
import JOSE
import NIOHTTP1
import ServiceKit

extension Demo {
    /// `neosec demo chain`: chained authorization against `neosec up --profile full`.
    struct Chain: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Chained authorization: the resource server prints through the print service by token exchange (act), then a second issuer accepts the first one's JWT authorization grant."
        )

        @Option(name: .customLong("data-dir"), help: "The data directory of the running `neosec up --profile full` (demo secrets, admin token).")
        var dataDirectory = "./.neosec"

        static let exchange = "urn:ietf:params:oauth:grant-type:token-exchange"
        static let jwtBearer = "urn:ietf:params:oauth:grant-type:jwt-bearer"
        static let accessTokenType = "urn:ietf:params:oauth:token-type:access_token"
        static let jwtType = "urn:ietf:params:oauth:token-type:jwt"

        func run() async throws {
            let environment = ProcessInfo.processInfo.environment
            let urls = DemoURLs(environment: environment)
            let issuerB = "http://127.0.0.1:\(environment["NEOSEC_ISSUER_B_PORT"] ?? String(Up.defaultIssuerBPort))"
            guard let data = FileManager.default.contents(atPath: dataDirectory + "/fixtures.json"),
                let web = try JSONDecoder().decode([DemoFixtures.Client].self, from: data).first(where: { $0.clientID == "demo-web" })?.clientSecret
            else { throw ValidationError("no demo-web client in \(dataDirectory)/fixtures.json: is `neosec up --profile full` running with this data directory?") }
            let adminToken = environment["NEOSEC_ADMIN_TOKEN"].flatMap { $0.isEmpty ? nil : $0 }
                ?? FileManager.default.contents(atPath: dataDirectory + "/admin.token").map { String(decoding: $0, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines) }
            guard let adminToken else { throw ValidationError("no admin token: set NEOSEC_ADMIN_TOKEN or pass --data-dir") }
            let client = DemoClient(urls: urls, clientID: "demo-web", secret: web)

            step("1. Alice signs in to the web app (code + PKCE through the login and consent pages) and creates a document")
            let alice = try await client.signIn("alice", password: "alice-demo-password", scope: "openid documents:read documents:write")
            let created = try await client.json(
                .POST, urls.resource + "/api/documents", token: alice.accessToken, body: ["title": "Boarding pass", "content": "Seat 12A."]
            )
            guard created.status == 201, let documentID = created.object["id"] as? String else { throw DemoFailure("creating the document answered \(created.status)") }
            say("   POST \(urls.resource)/api/documents → 201, id \(documentID)")

            step("2. Within one issuer: the resource server prints it through the print service (RFC 8693 token exchange)")
            let printed = try await client.json(.POST, urls.resource + "/api/documents/\(documentID)/print", token: alice.accessToken, body: [:])
            say("   POST /api/documents/\(documentID)/print → \(printed.status)")
            guard printed.status == 201 else { throw DemoFailure("printing answered \(printed.status): \(printed.body)") }
            say("   the resource server exchanged Alice's token (audience \(urls.resource)) for one with audience the print service;")
            say("   the print service answered: \(printed.body)")
            say("   → printed_for is Alice's sub; act names demo-resource-server, the party acting for her.")

            step("3. Across issuers: issuer B (\(issuerB), its own database) trusts issuer A (\(urls.token)) for JWT authorization grants")
            let subject = try Self.claim("sub", of: alice.idToken ?? "")
            var trusted = try await admin(client, .POST, issuerB + "/admin/trusts", token: adminToken, json: [
                "issuer": urls.token, "jwks_uri": urls.token + "/.well-known/jwks.json", "allowed_subjects": [subject], "scope": "documents:read",
                "max_assertion_lifetime": 300,
            ])
            say("   POST \(issuerB)/admin/trusts {issuer: A, jwks_uri: A's JWKS, allowed_subjects: [Alice], scope: documents:read} → \(trusted.status)")
            guard trusted.status == 201 else { throw DemoFailure("trusting issuer A answered \(trusted.status): \(trusted.body)") }
            let endpointB = issuerB + "/oauth2/token"
            let gateway = try await register(client, urls.token, token: adminToken, metadata: [
                "client_name": "Demo chain gateway (issuer A)", "grant_types": [Self.exchange], "scope": "documents:read",
                "allowed_audiences": [endpointB], "introspection_audiences": [urls.resource],
            ])
            let partner = try await register(client, issuerB, token: adminToken, metadata: [
                "client_name": "Demo chain partner (issuer B)", "grant_types": [Self.jwtBearer], "scope": "documents:read",
                "allowed_audiences": ["https://partner-api.example"],
            ])
            say("   clients registered: \(gateway.id) at A (token exchange, audience B's token endpoint), \(partner.id) at B (JWT bearer)")

            step("4. At issuer A: exchange Alice's token for a JWT authorization grant audienced to issuer B")
            let grant = try await client.send(
                .POST, urls.token + "/oauth2/token", headers: [Self.basic(gateway), ("Content-Type", "application/x-www-form-urlencoded")],
                body: DemoClient.encode([
                    ("grant_type", Self.exchange), ("subject_token", alice.accessToken), ("subject_token_type", Self.accessTokenType),
                    ("requested_token_type", Self.jwtType), ("audience", endpointB), ("scope", "documents:read"),
                ])
            )
            guard grant.status == 200, let assertion = grant.object["access_token"] as? String else {
                throw DemoFailure("the exchange at A answered \(grant.status): \(grant.body)")
            }
            say("   POST \(urls.token)/oauth2/token (token-exchange, requested_token_type jwt) → 200, issued_token_type \(grant.object["issued_token_type"] ?? "?"), token_type \(grant.object["token_type"] ?? "?")")
            say("   grant claims: \(try Self.payload(of: assertion))")

            step("5. At issuer B: the JWT bearer grant (RFC 7523) turns it into B's own access token")
            let form = DemoClient.encode([("grant_type", Self.jwtBearer), ("assertion", assertion), ("resource", "https://partner-api.example")])
            let tokenB = try await client.send(.POST, endpointB, headers: [Self.basic(partner), ("Content-Type", "application/x-www-form-urlencoded")], body: form)
            guard tokenB.status == 200, let accessB = tokenB.object["access_token"] as? String else {
                throw DemoFailure("the JWT bearer grant at B answered \(tokenB.status): \(tokenB.body)")
            }
            say("   POST \(endpointB) (jwt-bearer) → 200, scope \(tokenB.object["scope"] ?? "?")")
            say("   B's access token claims: \(try Self.payload(of: accessB))")
            say("   → iss is issuer B, sub is Alice's subject at A, act names the gateway client at A.")

            step("6. The same grant again at B: refused (its jti is single-use)")
            let replay = try await client.send(.POST, endpointB, headers: [Self.basic(partner), ("Content-Type", "application/x-www-form-urlencoded")], body: form)
            say("   POST \(endpointB) (jwt-bearer, same assertion) → \(replay.status) \(replay.object["error"] ?? "")")
            guard replay.status == 400 else { throw DemoFailure("a replayed assertion was accepted") }
            trusted = try await admin(client, .DELETE, issuerB + "/admin/trusts?issuer=" + DemoClient.form(urls.token), token: adminToken, json: nil)
            say("   (DELETE \(issuerB)/admin/trusts?issuer=A → \(trusted.status): the demo's trust removed again)")
            step("Done: delegation by token exchange within one issuer, and a JWT authorization grant across two.")
        }

        func step(_ text: String) { say("\n" + text) }

        struct Registered {
            var id: String
            var secret: String
        }

        func register(_ client: DemoClient, _ base: String, token: String, metadata: [String: Any]) async throws -> Registered {
            let answer = try await admin(client, .POST, base + "/admin/clients", token: token, json: metadata)
            guard answer.status == 201, let id = answer.object["client_id"] as? String, let secret = answer.object["client_secret"] as? String else {
                throw DemoFailure("registering a client at \(base) answered \(answer.status): \(answer.body)")
            }
            return Registered(id: id, secret: secret)
        }

        func admin(_ client: DemoClient, _ method: HTTPMethod, _ url: String, token: String, json: [String: Any]?) async throws -> DemoClient.Answer {
            var headers = [("Authorization", "Bearer " + token)]
            var body: String?
            if let json {
                headers.append(("Content-Type", "application/json"))
                body = String(decoding: try JSONSerialization.data(withJSONObject: json), as: UTF8.self)
            }
            return try await client.send(method, url, headers: headers, body: body)
        }

        static func basic(_ client: Registered) -> (String, String) {
            ("Authorization", "Basic " + Data("\(DemoClient.form(client.id)):\(DemoClient.form(client.secret))".utf8).base64EncodedString())
        }

        static func payload(of jwt: String) throws -> String {
            let parts = jwt.split(separator: ".", omittingEmptySubsequences: false)
            guard parts.count == 3, let bytes = Base64URL.decode(String(parts[1])) else { throw DemoFailure("not a JWT") }
            return String(decoding: bytes, as: UTF8.self)
        }

        static func claim(_ name: String, of jwt: String) throws -> String {
            guard let value = JWS.unverifiedStringClaim(name, of: jwt) else { throw DemoFailure("no \(name) in the ID token") }
            return value
        }
    }
}

