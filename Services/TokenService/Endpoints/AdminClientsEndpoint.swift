import Foundation
import Hummingbird
import ServiceKit
import Storage
import WireModels

/// Admin API for clients (`NEOSEC_ADMIN_TOKEN`):
///
/// - `POST /admin/clients` — RFC 7591 metadata (plus optional `client_id`); 201 with the
///   client information, the secret included this once.
/// - `GET /admin/clients`, `GET /admin/clients/{id}` — never a secret.
/// - `PUT /admin/clients/{id}` — replaces the metadata.
/// - `POST /admin/clients/{id}/secret` — a new secret; the old one stops working.
/// - `DELETE /admin/clients/{id}` — 204; the client's tokens are revoked with it.
struct AdminClientsEndpoint {
    let registry: ClientRegistry
    let tokens: any TokenStore
    let registrations: any RegistrationStore
    let bodyLimit: Int

    struct RequestedID: Decodable {
        var clientID: String?
        enum CodingKeys: String, CodingKey { case clientID = "client_id" }
    }

    func register(on group: RouterGroup<NeoSecRequestContext>) {
        group.post("clients") { request, context in
            var request = request
            let metadata = try await request.jsonBody(ClientMetadata.self, limit: bodyLimit, errorCode: .invalidClientMetadata)
            let bytes = try await request.body.collect(upTo: bodyLimit)
            // A `client_id` that is there but not a string is refused, not replaced by a random one.
            guard let requested = try? JSONDecoder().decode(RequestedID.self, from: Data(buffer: bytes)) else {
                throw OAuthError(.invalidClientMetadata, description: "client_id must be a string")
            }
            let information = try await registry.create(metadata, clientID: requested.clientID)
            context.logger.notice("client registered", metadata: ["client_id": .string(information.clientID)])
            return try Response.json(information, status: .created)
        }
        group.get("clients") { _, _ in
            try Response.json(["clients": try await registry.list()])
        }
        group.get("clients/:id") { _, context in
            guard let information = try await registry.information(try context.parameters.require("id")) else { throw Self.notFound }
            return try Response.json(information)
        }
        group.put("clients/:id") { request, context in
            var request = request
            let metadata = try await request.jsonBody(ClientMetadata.self, limit: bodyLimit, errorCode: .invalidClientMetadata)
            guard let information = try await registry.update(try context.parameters.require("id"), metadata) else { throw Self.notFound }
            return try Response.json(information)
        }
        group.post("clients/:id/secret") { _, context in
            guard let information = try await registry.rotateSecret(try context.parameters.require("id")) else { throw Self.notFound }
            context.logger.notice("client secret rotated", metadata: ["client_id": .string(information.clientID)])
            return try Response.json(information)
        }
        group.delete("clients/:id") { _, context in
            guard try await registry.delete(try context.parameters.require("id"), tokens: tokens, registrations: registrations) else { throw Self.notFound }
            return Response(status: .noContent)
        }
    }

    static let notFound = OAuthError(.invalidRequest, status: .notFound, description: "unknown client")
}
