import Foundation
import Hummingbird
import NIOCore
import JOSE
import ServiceKit
import Storage
import WireModels

/// The demo API: a per-user document store. Each route states the scope it needs; the
/// documents are the token subject's own (another user's id answers 404, like a missing one).
///
/// - `GET /api/whoami` (any valid token): `sub`, `client_id`, `scope` (SPEC §3), and `act` of a delegated token
/// - `GET /api/documents` (`documents:read`), `GET /api/documents/{id}` (`documents:read`)
/// - `POST /api/documents` (`documents:write`, JSON `{"title","content"}`) → 201
/// - `DELETE /api/documents/{id}` (`documents:write`) → 204
/// - `POST /api/documents/{id}/print` (`documents:read`; when `NEOSEC_RESOURCE_PRINT_URL` is set)
///   → 201 with the print service's job, obtained by token exchange (`PrintChain`)
/// - `POST /api/print` (`documents:read`): the print service's route (`PrintEndpoint`)
///
/// UMA 2.0 (Federated Authorization §3, Grant §3.2): every new document is registered at the
/// UMA service as a resource of its owner, with the scopes `documents:read` and
/// `documents:write`. A request for one document that is not the owner's own, and carries no
/// RPT granting the route's scope on it, gets 401 with
/// `WWW-Authenticate: UMA realm="…", as_uri="…", ticket="…"` — a fresh permission ticket for
/// exactly that resource and scope. An RPT's `permissions` are checked for the resource id,
/// the scope and their own `exp`.
/// `GET /api/whoami`: who the token speaks for, and who acts (RFC 8693 `act`) when delegated.
struct Whoami: Encodable {
    var sub: String
    var clientID: String
    var scope: String
    var act: JSONValue?

    enum CodingKeys: String, CodingKey {
        case sub, scope, act
        case clientID = "client_id"
    }

    /// What `Response.json` would send (sorted keys), written by hand on this hot route.
    func jsonBytes() throws -> [UInt8] {
        var writer = JSONObjectWriter()
        if let act {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            writer.field("act", json: Array(try encoder.encode(act)))
        }
        writer.field("client_id", clientID)
        writer.field("scope", scope)
        writer.field("sub", sub)
        return writer.finish()
    }
}

struct DocumentsEndpoint {
    static let read = "documents:read"
    static let write = "documents:write"

    let authenticator: AccessTokenVerifier
    let documents: any DocumentStore
    let time: any TimeSource
    let bodyLimit: Int
    let protection: ProtectionClient?
    var chain: PrintChain? = nil

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
            return Response.json(encoded: ByteBuffer(bytes: try Whoami(sub: caller.subject, clientID: caller.clientID, scope: caller.scopes.joined(separator: " "), act: caller.act).jsonBytes()))
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
            // Registration failures do not lose the document: it is registered when first shared.
            _ = await umaResource(of: document, context: context)
            return try Response.json(Self.view(document), status: .created)
        }
        router.get("/api/documents/:id") { request, context in
            let document = try await authorized(request, context, scope: Self.read)
            return try Response.json(Self.view(document))
        }
        router.post("/api/documents/:id/print") { request, context in
            guard let chain else { throw OAuthError(.invalidRequest, status: .notFound, description: "no print service is configured") }
            let document = try await authorized(request, context, scope: Self.read)
            guard let token = Self.presentedToken(request) else { throw authenticator.missing }
            return try await Self.print(document, token: token, chain: chain, context: context)
        }
        router.delete("/api/documents/:id") { request, context in
            let document = try await authorized(request, context, scope: Self.write)
            guard try await documents.delete(id: document.id, owner: document.owner) else {
                throw OAuthError(.invalidRequest, status: .notFound, description: "no such document")
            }
            if let protection, let resourceID = document.umaResourceID {
                do {
                    try await protection.delete(resourceID: resourceID)
                } catch {
                    context.logger.warning("uma resource deregistration failed", metadata: ["error": .string("\(error)")])
                }
            }
            return Response(status: .noContent, headers: [.cacheControl: "no-store"])
        }
    }

    /// The document of the path, if the request may use it with `scope`: the owner's own token
    /// with the OAuth scope, or an RPT whose permissions grant the scope on its UMA resource.
    /// Otherwise an UMA challenge with a fresh ticket (or 404 when there is no such document).
    func authorized(_ request: Request, _ context: NeoSecRequestContext, scope: String) async throws -> StoredDocument {
        let hasCredentials = request.headers.contains(.authorization)
        var caller: VerifiedAccessToken?
        if hasCredentials {
            caller = try await authenticator.authenticate(request, certificateThumbprint: await context.clientCertificateThumbprint())
        }
        guard let id = context.parameters.get("id"), id.utf8.count <= 64, let document = try await documents.find(id: id) else {
            if let caller { try authenticator.require(scope, of: caller) }
            throw OAuthError(.invalidRequest, status: .notFound, description: "no such document")
        }
        if let caller, caller.permissions == nil, caller.subject == document.owner {
            try authenticator.require(scope, of: caller)
            return document
        }
        let resourceID = await umaResource(of: document, context: context)
        if let caller, let resourceID, let permissions = caller.permissions {
            let now = time.epochSeconds
            if permissions.contains(where: { $0.resourceID == resourceID && $0.resourceScopes.contains(scope) && ($0.exp.map { $0 > now } ?? true) }) {
                context.logger.info("document read with an rpt", metadata: ["sub": .string(caller.subject)])
                return document
            }
        }
        guard let protection, let resourceID else {
            // Without UMA, another user's document is as absent as a missing one.
            if let caller { try authenticator.require(scope, of: caller) }
            throw OAuthError(.invalidRequest, status: .notFound, description: "no such document")
        }
        let ticket: String
        do {
            ticket = try await protection.ticket(resourceID: resourceID, scopes: [scope])
        } catch {
            context.logger.error("permission ticket request failed", metadata: ["error": .string("\(error)")])
            throw OAuthError(.temporarilyUnavailable, status: .serviceUnavailable, description: "try again later")
        }
        var challenge = OAuthError(
            .insufficientScope, status: .unauthorized, description: nil,
            challenge: .init(scheme: "UMA", realm: authenticator.realm, asURI: protection.asURI, ticket: ticket)
        )
        challenge.omitsCodeInChallenge = true
        throw challenge
    }

    /// The document's UMA resource id, registering it now if that has not happened yet.
    func umaResource(of document: StoredDocument, context: NeoSecRequestContext) async -> String? {
        if let id = document.umaResourceID { return id }
        guard let protection else { return nil }
        do {
            let id = try await protection.register(name: document.title, owner: document.owner)
            try await documents.setUMAResource(documentID: document.id, resourceID: id)
            return id
        } catch {
            context.logger.warning("uma resource registration failed", metadata: ["error": .string("\(error)")])
            return nil
        }
    }

    /// The access token of the request's `Authorization` header (already verified).
    static func presentedToken(_ request: Request) -> String? {
        guard let header = request.headers.value(.authorization) else { return nil }
        let parts = header.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
        return parts.count == 2 ? String(parts[1]).trimmingCharacters(in: .whitespaces) : nil
    }

    /// Exchanges the caller's token for one meant for the print service, and prints there.
    static func print(_ document: StoredDocument, token: String, chain: PrintChain, context: NeoSecRequestContext) async throws -> Response {
        let exchanged: String
        do {
            exchanged = try await chain.exchange(token)
        } catch let refused as PrintChain.Refused {
            let code = refused.error.utf8.count <= 40 && refused.error.allSatisfy({ $0.isLetter || $0 == "_" }) ? refused.error : "refused"
            context.logger.warning("token exchange refused", metadata: ["status": .stringConvertible(refused.status), "error": .string(code)])
            throw OAuthError(.accessDenied, status: .forbidden, description: "the token service did not delegate this token to the print service (\(code))")
        } catch {
            context.logger.error("token exchange failed", metadata: ["error_type": .string(String(reflecting: type(of: error)))])
            throw OAuthError(.temporarilyUnavailable, status: .serviceUnavailable, description: "try again later")
        }
        let (status, body): (Int, Data)
        do {
            (status, body) = try await chain.print(view(document), token: exchanged)
        } catch {
            throw OAuthError(.temporarilyUnavailable, status: .serviceUnavailable, description: "the print service is unreachable")
        }
        guard status == 201 else {
            context.logger.warning("print service refused the job", metadata: ["status": .stringConvertible(status)])
            throw OAuthError(.temporarilyUnavailable, status: .badGateway, description: "the print service answered \(status)")
        }
        context.logger.info("document printed through the chain", metadata: ["document": .string(document.id)])
        return Response(
            status: .created, headers: [.contentType: "application/json", .cacheControl: "no-store"], body: ResponseBody(byteBuffer: ByteBuffer(bytes: body))
        )
    }

    static func view(_ document: StoredDocument) -> Document {
        Document(id: document.id, title: document.title, content: document.content, createdAt: document.createdAt)
    }
}
