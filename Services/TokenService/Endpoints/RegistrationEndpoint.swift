import Foundation
import Hummingbird
import ServiceKit
import Storage
import WireModels

/// Dynamic client registration (RFC 7591) at `POST /oauth2/register`, and management (RFC 7592)
/// at `GET|PUT|DELETE /oauth2/register/{client_id}` with the registration access token. Bodies
/// are JSON; answers carry `Cache-Control: no-store` (they hold credentials).
struct RegistrationEndpoint {
    static let path = "/oauth2/register"

    let registration: DynamicRegistration
    let tokens: any TokenStore
    let bodyLimit: Int

    func register(on router: Router<NeoSecRequestContext>) {
        router.post(RouterPath(stringLiteral: Self.path)) { request, context in
            let bearer = try Self.bearer(request)
            var request = request
            let body = try await Self.json(&request, limit: bodyLimit)
            let information = try await registration.register(body, bearer: bearer)
            context.logger.notice("client registered dynamically", metadata: ["client_id": .string(information.clientID)])
            return try Response.json(information, status: .created)
        }
        router.get(RouterPath(stringLiteral: Self.path + "/:client_id")) { request, context in
            let clientID = try context.parameters.require("client_id")
            return try Response.json(try await registration.read(clientID: clientID, bearer: try Self.bearer(request)))
        }
        router.put(RouterPath(stringLiteral: Self.path + "/:client_id")) { request, context in
            let clientID = try context.parameters.require("client_id")
            let bearer = try Self.bearer(request)
            _ = try await registration.authorize(clientID: clientID, bearer: bearer)
            var request = request
            let body = try await Self.json(&request, limit: bodyLimit)
            let information = try await registration.update(clientID: clientID, bearer: bearer, body: body)
            context.logger.notice("client registration updated", metadata: ["client_id": .string(clientID)])
            return try Response.json(information)
        }
        router.delete(RouterPath(stringLiteral: Self.path + "/:client_id")) { request, context in
            let clientID = try context.parameters.require("client_id")
            try await registration.delete(clientID: clientID, bearer: try Self.bearer(request), tokens: tokens)
            context.logger.notice("client deregistered", metadata: ["client_id": .string(clientID)])
            return Response(status: .noContent, headers: [.cacheControl: "no-store"])
        }
    }

    /// The `Bearer` credential, nil without an `Authorization` header; another scheme or a
    /// malformed header is a 401.
    static func bearer(_ request: Request) throws -> String? {
        let values = request.headers[values: .authorization]
        guard let header = values.first else { return nil }
        let parts = header.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
        guard values.count == 1, parts.count == 2, parts[0].lowercased() == "bearer" else {
            throw OAuthError.invalidToken("use Authorization: Bearer with an initial or registration access token", realm: "neosec-registration")
        }
        return String(parts[1]).trimmingCharacters(in: .whitespaces)
    }

    static func json(_ request: inout Request, limit: Int) async throws -> Data {
        guard request.mediaType == "application/json" else { throw OAuthError(.invalidClientMetadata, description: "content type must be application/json") }
        let buffer = try await request.collectBody(upTo: limit)
        let bytes = Array(buffer.readableBytesView)
        guard String(validating: bytes, as: UTF8.self) != nil else { throw OAuthError(.invalidClientMetadata, description: "body is not valid UTF-8") }
        return Data(bytes)
    }
}

/// `POST /admin/initial-access-tokens` (SPEC §3): `{"token": "neo_iat_…", "expires_in": …}`.
struct AdminInitialAccessTokensEndpoint {
    let registration: DynamicRegistration
    let bodyLimit: Int

    func register(on group: RouterGroup<NeoSecRequestContext>) {
        group.post("initial-access-tokens") { request, context in
            var request = request
            let options: InitialAccessTokenRequest
            if request.headers[.contentType] == nil {
                options = InitialAccessTokenRequest()
            } else {
                options = try await request.jsonBody(InitialAccessTokenRequest.self, limit: bodyLimit)
            }
            let issued = try await registration.issueInitialAccessToken(options)
            context.logger.notice("initial access token issued", metadata: ["expires_in": .stringConvertible(issued.expiresIn)])
            struct Answer: Encodable {
                var token: String
                var expiresIn: Int
                enum CodingKeys: String, CodingKey {
                    case token
                    case expiresIn = "expires_in"
                }
            }
            return try Response.json(Answer(token: issued.token, expiresIn: issued.expiresIn), status: .created)
        }
    }
}
