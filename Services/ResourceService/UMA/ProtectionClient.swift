import AsyncHTTPClient
import Foundation
import JOSE
import NIOCore
import NIOHTTP1
import ServiceKit
import Synchronization

/// The resource server's side of the UMA protection API (UMA 2.0 Federated Authorization
/// §3, §4): it registers each document as a resource of its owner and asks for permission
/// tickets, with a PAT obtained by the client credentials grant (scope `uma_protection`) and
/// kept until shortly before it expires. A PAT the UMA service refuses is dropped and fetched
/// once more.
final class ProtectionClient: Sendable {
    static let documentScopes = [DocumentsEndpoint.read, DocumentsEndpoint.write]
    static let documentType = "urn:neosec:resource-type:document"

    let tokenEndpoint: String
    /// The authorization server's issuer: the `as_uri` of UMA challenges.
    let asURI: String
    let umaBase: String
    let credentials: ResourceClientCredentials
    let http: HTTPClient
    let time: any TimeSource
    private let pat = Mutex<(token: String, until: Int64)?>(nil)

    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    init(config: ServiceConfig, http: HTTPClient, time: any TimeSource) {
        asURI = config.issuer.absoluteString.hasSuffix("/") ? String(config.issuer.absoluteString.dropLast()) : config.issuer.absoluteString
        tokenEndpoint = ResourceClientCredentials.tokenEndpoint(config)
        let uma = config.serviceURLs[.uma]!.absoluteString
        umaBase = uma.hasSuffix("/") ? String(uma.dropLast()) : uma
        credentials = ResourceClientCredentials(config: config)
        self.http = http
        self.time = time
    }

    /// Registers a document for its owner; returns the resource id.
    func register(name: String, owner: String) async throws -> String {
        let body = try JSONSerialization.data(withJSONObject: [
            "name": name, "type": Self.documentType, "resource_scopes": Self.documentScopes, "owner": owner,
        ])
        let (status, answer) = try await call(.POST, path: "/uma/resource_set", body: body)
        guard status == 201, let object = try? JSONSerialization.jsonObject(with: answer) as? [String: Any], let id = object["_id"] as? String else {
            throw Failure(description: "resource registration answered \(status)")
        }
        return id
    }

    func delete(resourceID: String) async throws {
        let (status, _) = try await call(.DELETE, path: "/uma/resource_set/" + resourceID, body: nil)
        guard status == 204 || status == 404 else { throw Failure(description: "resource deletion answered \(status)") }
    }

    /// A permission ticket for `scopes` of the resource (§4).
    func ticket(resourceID: String, scopes: [String]) async throws -> String {
        let body = try JSONSerialization.data(withJSONObject: ["resource_id": resourceID, "resource_scopes": scopes])
        let (status, answer) = try await call(.POST, path: "/uma/permission", body: body)
        guard status == 201, let object = try? JSONSerialization.jsonObject(with: answer) as? [String: Any], let ticket = object["ticket"] as? String else {
            throw Failure(description: "permission request answered \(status)")
        }
        return ticket
    }

    func call(_ method: HTTPMethod, path: String, body: Data?) async throws -> (Int, Data) {
        for attempt in 0..<2 {
            let token = try await currentPAT()
            var request = HTTPClientRequest(url: umaBase + path)
            request.method = method
            request.headers.add(name: "Authorization", value: "Bearer " + token)
            request.headers.add(name: "Accept", value: "application/json")
            if let body {
                request.headers.add(name: "Content-Type", value: "application/json")
                request.body = .bytes(ByteBuffer(bytes: body))
            }
            let response = try await http.execute(request, timeout: .seconds(10))
            let bytes = try await response.body.collect(upTo: 1 << 20)
            if response.status.code == 401 && attempt == 0 {
                pat.withLock { $0 = nil }
                continue
            }
            return (Int(response.status.code), Data(buffer: bytes))
        }
        throw Failure(description: "the UMA service refused the PAT")
    }

    func currentPAT() async throws -> String {
        let now = time.epochSeconds
        if let cached = pat.withLock({ $0 }), cached.until > now { return cached.token }
        guard let authorization = try credentials.basicAuthorization() else { throw Failure(description: "no UMA client secret configured") }
        var request = HTTPClientRequest(url: tokenEndpoint)
        request.method = .POST
        request.headers.add(name: "Authorization", value: authorization)
        request.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
        request.body = .bytes(ByteBuffer(string: "grant_type=client_credentials&scope=uma_protection"))
        let response = try await http.execute(request, timeout: .seconds(10))
        let bytes = try await response.body.collect(upTo: 64 * 1024)
        guard response.status == .ok, let object = try? JSONSerialization.jsonObject(with: Data(buffer: bytes)) as? [String: Any],
            let token = object["access_token"] as? String
        else { throw Failure(description: "the PAT request answered \(response.status.code)") }
        let lifetime = (object["expires_in"] as? Int) ?? 60
        pat.withLock { $0 = (token, now + Int64(max(lifetime - 30, 5))) }
        return token
    }
}
