import Foundation
import Hummingbird
import JOSE
import ServiceKit
import Storage

/// The demo API: a per-user document store. Each route states the scope it needs; the
/// documents are the token subject's own (another user's id answers 404, like a missing one).
///
/// - `GET /api/whoami` (any valid token): `sub`, `client_id`, `scope` (SPEC §3)
/// - `GET /api/documents` (`documents:read`), `GET /api/documents/{id}` (`documents:read`)
/// - `POST /api/documents` (`documents:write`, JSON `{"title","content"}`) → 201
/// - `DELETE /api/documents/{id}` (`documents:write`) → 204
struct DocumentsEndpoint {
    static let read = "documents:read"
    static let write = "documents:write"

    let authenticator: AccessTokenVerifier
    let documents: any DocumentStore
    let time: any TimeSource
    let bodyLimit: Int

    struct Document: Codable {
        var id: String
        var title: String
        var content: String
        var createdAt: Int64

        enum CodingKeys: String, CodingKey {
            case id, title, content
            case createdAt = "created_at"
        }
    }

    struct NewDocument: Decodable {
        var title: String
        var content: String
    }

    func register(on router: Router<NeoSecRequestContext>) {
        router.get("/api/whoami") { request, context in
            let caller = try await authenticator.authenticate(request, certificateThumbprint: await context.clientCertificateThumbprint())
            return try Response.json(["sub": caller.subject, "client_id": caller.clientID, "scope": caller.scopes.joined(separator: " ")])
        }
        router.get("/api/documents") { request, context in
            let caller = try await authenticator.authenticate(request, certificateThumbprint: await context.clientCertificateThumbprint())
            try authenticator.require(Self.read, of: caller)
            return try Response.json(["documents": try await documents.list(owner: caller.subject).map(Self.view)])
        }
        router.post("/api/documents") { request, context in
            let caller = try await authenticator.authenticate(request, certificateThumbprint: await context.clientCertificateThumbprint())
            try authenticator.require(Self.write, of: caller)
            var request = request
            let body = try await request.jsonBody(NewDocument.self, limit: bodyLimit)
            guard (1...200).contains(body.title.count), body.content.utf8.count <= 32 * 1024 else {
                throw OAuthError.invalidRequest("title must be 1 to 200 characters, content at most 32 KiB")
            }
            let document = StoredDocument(
                id: RandomToken.make(bytes: 12), owner: caller.subject, title: body.title, content: body.content, createdAt: time.epochSeconds
            )
            try await documents.insert(document)
            context.logger.info("document created", metadata: ["sub": .string(caller.subject)])
            return try Response.json(Self.view(document), status: .created)
        }
        router.get("/api/documents/:id") { request, context in
            let caller = try await authenticator.authenticate(request, certificateThumbprint: await context.clientCertificateThumbprint())
            try authenticator.require(Self.read, of: caller)
            guard let id = context.parameters.get("id"), let document = try await documents.find(id: id, owner: caller.subject) else {
                throw OAuthError(.invalidRequest, status: .notFound, description: "no such document")
            }
            return try Response.json(Self.view(document))
        }
        router.delete("/api/documents/:id") { request, context in
            let caller = try await authenticator.authenticate(request, certificateThumbprint: await context.clientCertificateThumbprint())
            try authenticator.require(Self.write, of: caller)
            guard let id = context.parameters.get("id"), try await documents.delete(id: id, owner: caller.subject) else {
                throw OAuthError(.invalidRequest, status: .notFound, description: "no such document")
            }
            return Response(status: .noContent, headers: [.cacheControl: "no-store"])
        }
    }

    static func view(_ document: StoredDocument) -> Document {
        Document(id: document.id, title: document.title, content: document.content, createdAt: document.createdAt)
    }
}
