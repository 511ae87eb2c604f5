import AsyncHTTPClient
import Foundation
import NIOCore
import ServiceKit

/// The demo fixtures of SPEC §4, registered through the admin APIs on the first run of
/// `neosec up` and remembered in `fixtures.json` (0600), so that later runs print the same ids
/// and secrets. Users are created on the Authentication Service when missing.
enum DemoFixtures {
    struct Client: Codable, Sendable {
        var description: String
        var clientID: String
        var clientSecret: String?

        enum CodingKeys: String, CodingKey {
            case description
            case clientID = "client_id"
            case clientSecret = "client_secret"
        }
    }

    struct URLs {
        var token: String
        var authn: String
        var uma: String
        var resource: String
        /// The print service of `neosec up --profile full` (an allowed token-exchange audience of
        /// the resource server's client even when it is not running).
        var print: String
    }

    /// The demo web app's redirect URI (SPEC §4); nothing listens there unless you run it.
    static let webRedirect = "http://127.0.0.1:9999/callback"
    static let spaRedirect = "http://127.0.0.1:9999/spa/callback"
    static let userScopes = "openid profile email address phone offline_access documents:read documents:write"
    /// Where the UMA claims interaction endpoint sends the requesting party back (UMA 2.0 Grant §3.3.2).
    static let claimsRedirect = "http://127.0.0.1:9999/claims-callback"

    static func definitions(_ urls: URLs) -> [(description: String, id: String, metadata: String)] {
        [
            (
                "web app (code+PKCE, refresh)",
                "demo-web",
                #"{"client_id":"demo-web","client_name":"NeoSec Demo Web App","grant_types":["authorization_code","refresh_token","urn:ietf:params:oauth:grant-type:uma-ticket"],"token_endpoint_auth_method":"client_secret_basic","require_pkce":true,"redirect_uris":["\#(webRedirect)"],"claims_redirect_uris":["\#(claimsRedirect)"],"post_logout_redirect_uris":["http://127.0.0.1:9999/"],"scope":"\#(userScopes) uma:policies","allowed_audiences":["\#(urls.resource)","\#(urls.uma)"],"client_uri":"http://127.0.0.1:9999/","policy_uri":"http://127.0.0.1:9999/privacy","tos_uri":"http://127.0.0.1:9999/terms"}"#
            ),
            (
                "SPA / native (public, PKCE)",
                "demo-spa",
                #"{"client_id":"demo-spa","client_name":"NeoSec Demo SPA","grant_types":["authorization_code","refresh_token"],"token_endpoint_auth_method":"none","redirect_uris":["\#(spaRedirect)"],"scope":"\#(userScopes)","allowed_audiences":["\#(urls.resource)"]}"#
            ),
            (
                "service (client_credentials)",
                "demo-service",
                #"{"client_id":"demo-service","client_name":"Demo service client","grant_types":["client_credentials"],"token_endpoint_auth_method":"client_secret_basic","scope":"documents:read documents:write","allowed_audiences":["\#(urls.resource)"]}"#
            ),
            (
                "resource server (introspection, uma_protection, token exchange)",
                "demo-resource-server",
                #"{"client_id":"demo-resource-server","client_name":"Demo resource server","grant_types":["client_credentials","urn:ietf:params:oauth:grant-type:token-exchange"],"token_endpoint_auth_method":"client_secret_basic","scope":"uma_protection introspection documents:read","allowed_audiences":["\#(urls.uma)","\#(urls.print)"],"introspection_audiences":["\#(urls.resource)"]}"#
            ),
        ]
    }

    /// SPEC §4 users, each with every standard claim of profile, email, phone and address.
    static func users() -> [(username: String, password: String, claims: String)] {
        func claims(_ given: String, _ family: String, _ login: String, _ phone: String, _ street: String) -> String {
            #"{"name":"\#(given) \#(family)","given_name":"\#(given)","family_name":"\#(family)","middle_name":"Q.","nickname":"\#(login)","preferred_username":"\#(login)","profile":"https://example.com/\#(login)","picture":"https://example.com/\#(login).png","website":"https://\#(login).example.com","gender":"female","birthdate":"1990-04-01","zoneinfo":"Europe/Paris","locale":"en-GB","updated_at":1700000000,"email":"\#(login)@example.com","email_verified":true,"phone_number":"\#(phone)","phone_number_verified":true,"address":{"formatted":"\#(street)\n75001 Paris\nFrance","street_address":"\#(street)","locality":"Paris","region":"Île-de-France","postal_code":"75001","country":"FR"}}"#
        }
        return [
            ("alice", "alice-demo-password", claims("Alice", "Martin", "alice", "+33 1 23 45 67 01", "1 rue de Rivoli")),
            ("bob", "bob-demo-password", claims("Bob", "Durand", "bob", "+33 1 23 45 67 02", "2 rue de Rivoli")),
        ]
    }

    static func seedIfNeeded(urls: URLs, adminToken: Secret, dataDirectory: String) async throws -> [Client] {
        let path = dataDirectory + "/fixtures.json"
        var known: [Client] = []
        if let data = FileManager.default.contents(atPath: path) {
            known = try JSONDecoder().decode([Client].self, from: data)
        }
        var changed = false
        for definition in definitions(urls) where !known.contains(where: { $0.clientID == definition.id }) {
            let (status, body) = try await post(urls.token + "/admin/clients", json: definition.metadata, adminToken: adminToken)
            guard status == 201 else { throw ConfigError("registering \(definition.id) answered \(status)") }
            struct Registered: Decodable {
                var client_id: String
                var client_secret: String?
            }
            let registered = try JSONDecoder().decode(Registered.self, from: body)
            known.append(Client(description: definition.description, clientID: registered.client_id, clientSecret: registered.client_secret))
            changed = true
        }
        // The demo resource server reads its client secret from here when it needs a PAT.
        if let secret = known.first(where: { $0.clientID == "demo-resource-server" })?.clientSecret {
            let secretPath = dataDirectory + "/resource-server.secret"
            if FileManager.default.contents(atPath: secretPath).map({ String(decoding: $0, as: UTF8.self) }) != secret + "\n" {
                FileManager.default.createFile(atPath: secretPath, contents: Data((secret + "\n").utf8), attributes: [.posixPermissions: 0o600])
            }
        }
        if changed {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            FileManager.default.createFile(atPath: path, contents: try encoder.encode(known), attributes: [.posixPermissions: 0o600])
        }
        let existing = try await usernames(urls.authn, adminToken: adminToken)
        for user in users() where !existing.contains(user.username) {
            let json = #"{"username":"\#(user.username)","password":"\#(user.password)","claims":\#(user.claims)}"#
            let (status, _) = try await post(urls.authn + "/admin/accounts", json: json, adminToken: adminToken)
            guard status == 201 else { throw ConfigError("creating user \(user.username) answered \(status)") }
        }
        return known
    }

    static func usernames(_ authnURL: String, adminToken: Secret) async throws -> Set<String> {
        var request = HTTPClientRequest(url: authnURL + "/admin/accounts")
        request.method = .GET
        request.headers.add(name: "Authorization", value: "Bearer \(adminToken.value)")
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
        let body = try await response.body.collect(upTo: 4 << 20)
        guard response.status == .ok else { throw ConfigError("listing accounts answered \(response.status.code)") }
        struct Account: Decodable { var username: String }
        struct Listing: Decodable { var accounts: [Account] }
        if let listing = try? JSONDecoder().decode(Listing.self, from: Data(buffer: body)) {
            return Set(listing.accounts.map(\.username))
        }
        return Set(try JSONDecoder().decode([Account].self, from: Data(buffer: body)).map(\.username))
    }

    static func post(_ url: String, json: String, adminToken: Secret) async throws -> (Int, Data) {
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "Authorization", value: "Bearer \(adminToken.value)")
        request.headers.add(name: "Content-Type", value: "application/json")
        request.body = .bytes(ByteBuffer(string: json))
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
        let body = try await response.body.collect(upTo: 1 << 20)
        return (Int(response.status.code), Data(buffer: body))
    }
}
