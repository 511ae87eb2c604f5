import Foundation
import HTTPTypes
import Hummingbird
import JOSE
import ServiceKit
import Storage
import WireModels

/// The UMA protection API (UMA 2.0 Federated Authorization §1.4.1): every call carries a PAT,
/// an access token with scope `uma_protection` audienced to this service. The resource server
/// is the PAT's `client_id`; the resource owner is the PAT's subject when the PAT was issued on
/// a user's behalf, or the `owner` (a `sub`) the resource server names when it holds a
/// client-credentials PAT (as Keycloak's protection API allows).
struct ProtectionAPI {
    static let scope = "uma_protection"
    static let registrationPath = "/uma/resource_set"
    static let permissionPath = "/uma/permission"
    static let maximumResourcesPerRequest = 20

    let authenticator: AccessTokenVerifier
    let authority: UMAAuthority
    let store: any UMAStore
    let time: any TimeSource
    let bodyLimit: Int
    let baseURL: String

    struct Caller {
        var resourceServer: String
        /// Set when the PAT stands for one resource owner.
        var owner: String?
    }

    func caller(_ request: Request, _ context: NeoSecRequestContext) async throws -> Caller {
        let token = try await authenticator.authenticate(request, certificateThumbprint: await context.clientCertificateThumbprint())
        try authenticator.require(Self.scope, of: token)
        return Caller(resourceServer: token.clientID, owner: token.subject == token.clientID ? nil : token.subject)
    }

    /// A resource description (§3.1). `resource_scopes` is required; `owner` is this server's
    /// extension for client-credentials PATs.
    struct Description: Decodable {
        var resourceScopes: [String]
        var name: String?
        var type: String?
        var iconURI: String?
        var description: String?
        var owner: String?

        enum CodingKeys: String, CodingKey {
            case resourceScopes = "resource_scopes"
            case name, type, description, owner
            case iconURI = "icon_uri"
        }
    }

    struct View: Encodable {
        var id: String
        var resourceScopes: [String]
        var name: String?
        var type: String?
        var iconURI: String?
        var description: String?
        var owner: String

        enum CodingKeys: String, CodingKey {
            case id = "_id"
            case resourceScopes = "resource_scopes"
            case name, type, description, owner
            case iconURI = "icon_uri"
        }
    }

    struct Created: Encodable {
        var id: String
        var userAccessPolicyURI: String?
        enum CodingKeys: String, CodingKey {
            case id = "_id"
            case userAccessPolicyURI = "user_access_policy_uri"
        }
    }

    static let notFound = OAuthError(.notFound, status: .notFound, description: "no such resource")

    func register(on router: Router<NeoSecRequestContext>) {
        let collection = RouterPath(stringLiteral: Self.registrationPath)
        let item = RouterPath(stringLiteral: Self.registrationPath + "/:id")
        router.post(collection) { request, context in
            let caller = try await caller(request, context)
            var request = request
            let body = try await request.jsonBody(Description.self, limit: bodyLimit)
            let owner = try Self.owner(of: body, caller: caller)
            let resource = UMAResource(
                id: RandomToken.make(bytes: 16), resourceServer: caller.resourceServer, owner: owner, name: body.name, type: body.type, iconURI: body.iconURI,
                description: body.description, scopes: try Self.validated(body), createdAt: time.epochSeconds
            )
            try await store.insertResource(resource)
            context.logger.info("uma resource registered", metadata: ["resource_server": .string(caller.resourceServer)])
            var headers = HTTPFields()
            headers[.location] = baseURL + Self.registrationPath + "/" + resource.id
            return try Response.json(Created(id: resource.id, userAccessPolicyURI: baseURL + PolicyAPI.policiesPath), status: .created, extraHeaders: headers)
        }
        router.get(collection) { request, context in
            let caller = try await caller(request, context)
            let resources = try await store.resources(resourceServer: caller.resourceServer).filter { caller.owner == nil || $0.owner == caller.owner }
            return try Response.json(resources.map(\.id))
        }
        router.get(item) { request, context in
            let resource = try await owned(request, context)
            return try Response.json(
                View(
                    id: resource.id, resourceScopes: resource.scopes, name: resource.name, type: resource.type, iconURI: resource.iconURI,
                    description: resource.description, owner: resource.owner
                )
            )
        }
        router.put(item) { request, context in
            var existing = try await owned(request, context)
            var request = request
            let body = try await request.jsonBody(Description.self, limit: bodyLimit)
            if let owner = body.owner, owner != existing.owner { throw OAuthError.invalidRequest("a resource's owner cannot change") }
            existing.scopes = try Self.validated(body)
            existing.name = body.name
            existing.type = body.type
            existing.iconURI = body.iconURI
            existing.description = body.description
            guard try await store.updateResource(existing) else { throw Self.notFound }
            return try Response.json(Created(id: existing.id, userAccessPolicyURI: nil))
        }
        router.delete(item) { request, context in
            let resource = try await owned(request, context)
            guard try await store.deleteResource(id: resource.id, resourceServer: resource.resourceServer) else { throw Self.notFound }
            return Response(status: .noContent, headers: [.cacheControl: "no-store"])
        }
        router.post(RouterPath(stringLiteral: Self.permissionPath)) { request, context in
            let caller = try await caller(request, context)
            var request = request
            let permissions = try await request.jsonBody(PermissionRequests.self, limit: bodyLimit).items
            guard (1...Self.maximumResourcesPerRequest).contains(permissions.count) else {
                throw OAuthError.invalidRequest("one to \(Self.maximumResourcesPerRequest) permission requests")
            }
            var accepted: [UMATicket.Permission] = []
            for permission in permissions {
                // §4.3: a resource this server did not register (or of another owner, for an
                // owner's PAT) is `invalid_resource_id`; an unregistered scope `invalid_scope`.
                guard permission.resourceID.utf8.count <= 128, let resource = try await store.resource(id: permission.resourceID),
                    resource.resourceServer == caller.resourceServer, caller.owner == nil || caller.owner == resource.owner
                else { throw OAuthError(.invalidResourceID, description: "unknown resource_id") }
                guard permission.resourceScopes.allSatisfy(resource.scopes.contains) else {
                    throw OAuthError.invalidScope("a requested scope is not registered for the resource")
                }
                if let index = accepted.firstIndex(where: { $0.resourceID == resource.id }) {
                    for scope in permission.resourceScopes where !accepted[index].scopes.contains(scope) { accepted[index].scopes.append(scope) }
                } else {
                    var unique: [String] = []
                    for scope in permission.resourceScopes where !unique.contains(scope) { unique.append(scope) }
                    accepted.append(UMATicket.Permission(resourceID: resource.id, scopes: unique))
                }
            }
            let ticket = try await authority.issueTicket(resourceServer: caller.resourceServer, permissions: accepted)
            return try Response.json(["ticket": ticket], status: .created)
        }
    }

    /// The resource named in the path, when it belongs to this resource server (and owner).
    /// Anyone else's answers 404 exactly as a missing one does.
    func owned(_ request: Request, _ context: NeoSecRequestContext) async throws -> UMAResource {
        let caller = try await caller(request, context)
        guard let id = context.parameters.get("id"), id.utf8.count <= 128, let resource = try await store.resource(id: id),
            resource.resourceServer == caller.resourceServer, caller.owner == nil || caller.owner == resource.owner
        else { throw Self.notFound }
        return resource
    }

    static func owner(of body: Description, caller: Caller) throws -> String {
        if let owner = caller.owner {
            guard body.owner == nil || body.owner == owner else { throw OAuthError.invalidRequest("owner differs from the PAT's resource owner") }
            return owner
        }
        guard let owner = body.owner, (1...255).contains(owner.utf8.count), owner.unicodeScalars.allSatisfy({ $0.value > 0x20 && $0.value < 0x7F })
        else { throw OAuthError.invalidRequest("owner (the resource owner's sub) is required with a client PAT") }
        return owner
    }

    /// Field limits; the scopes as a duplicate-free list of RFC 6749 §3.3 scope-tokens.
    static func validated(_ body: Description) throws -> [String] {
        guard (1...64).contains(body.resourceScopes.count) else { throw OAuthError.invalidRequest("resource_scopes must list 1 to 64 scopes") }
        var scopes: [String] = []
        for scope in body.resourceScopes {
            guard UMAScopes.isScopeToken(scope) else { throw OAuthError.invalidRequest("malformed resource scope") }
            if !scopes.contains(scope) { scopes.append(scope) }
        }
        for (text, limit) in [(body.name, 200), (body.type, 200), (body.description, 2000)] {
            if let text, text.utf8.count > limit || text.unicodeScalars.contains(where: { $0.value < 0x20 && $0 != "\n" }) {
                throw OAuthError.invalidRequest("name, type or description too long or malformed")
            }
        }
        if let icon = body.iconURI {
            guard icon.utf8.count <= 2000, let url = URL(string: icon), url.scheme == "https" || url.scheme == "http", url.host != nil else {
                throw OAuthError.invalidRequest("icon_uri must be an http(s) URL")
            }
        }
        return scopes
    }
}

/// A permission request body (§4.1): one object, or an array of them.
struct PermissionRequests: Decodable {
    struct Item: Decodable {
        var resourceID: String
        var resourceScopes: [String]
        enum CodingKeys: String, CodingKey {
            case resourceID = "resource_id"
            case resourceScopes = "resource_scopes"
        }
    }

    var items: [Item]

    init(from decoder: any Decoder) throws {
        if let many = try? [Item](from: decoder) {
            items = many
        } else {
            items = [try Item(from: decoder)]
        }
    }
}

enum UMAScopes {
    /// RFC 6749 §3.3 scope-token, at most 200 bytes.
    static func isScopeToken(_ value: String) -> Bool {
        (1...200).contains(value.utf8.count) && value.utf8.allSatisfy { $0 == 0x21 || (0x23...0x5B).contains($0) || (0x5D...0x7E).contains($0) }
    }
}
