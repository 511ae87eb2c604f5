import AsyncHTTPClient
import Foundation
import NIOCore
import ServiceKit

/// The demo fixtures of SPEC §4 that the running services can hold so far, registered through
/// the admin API on the first run of `neosec up` and remembered in `fixtures.json` (0600), so
/// that later runs print the same ids and secrets.
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

    /// Fixtures registrable today. The web, SPA and resource-server clients need the
    /// authorization endpoint, introspection and UMA, and join this list with them.
    static let definitions: [(description: String, id: String, metadata: String)] = [
        (
            "service (client_credentials)",
            "demo-service",
            #"{"client_id":"demo-service","client_name":"Demo service client","grant_types":["client_credentials"],"token_endpoint_auth_method":"client_secret_basic","scope":"documents:read documents:write","allowed_audiences":["http://127.0.0.1:9004"]}"#
        )
    ]

    static func seedIfNeeded(tokenURL: String, adminToken: Secret, dataDirectory: String) async throws -> [Client] {
        let path = dataDirectory + "/fixtures.json"
        var known: [Client] = []
        if let data = FileManager.default.contents(atPath: path) {
            known = try JSONDecoder().decode([Client].self, from: data)
        }
        var changed = false
        for definition in definitions where !known.contains(where: { $0.clientID == definition.id }) {
            var request = HTTPClientRequest(url: tokenURL + "/admin/clients")
            request.method = .POST
            request.headers.add(name: "Authorization", value: "Bearer \(adminToken.value)")
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(string: definition.metadata))
            let response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
            let body = try await response.body.collect(upTo: 1 << 20)
            guard response.status == .created else {
                throw ConfigError("registering \(definition.id) answered \(response.status.code)")
            }
            struct Registered: Decodable {
                var client_id: String
                var client_secret: String?
            }
            let registered = try JSONDecoder().decode(Registered.self, from: Data(buffer: body))
            known.append(Client(description: definition.description, clientID: registered.client_id, clientSecret: registered.client_secret))
            changed = true
        }
        if changed {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            let data = try encoder.encode(known)
            FileManager.default.createFile(atPath: path, contents: data, attributes: [.posixPermissions: 0o600])
        }
        return known
    }
}
