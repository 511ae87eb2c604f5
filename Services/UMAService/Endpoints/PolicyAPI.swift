import Foundation
import JOSE
import Hummingbird
import ServiceKit
import Storage
import WireModels

/// The owner's policy API (UMA leaves policies to the server; the shape follows Keycloak's and
/// PingAM's user-managed access): with an access token carrying `uma:policies` and audienced to
/// this service, the token's subject manages who may do what with their resources.
///
/// - `GET /uma/resources` → `{"resources": [{"_id", "name", "resource_scopes"}…]}`: the owner's resources
/// - `GET /uma/policies` → `{"policies": [grant…]}`
/// - `POST /uma/policies` `{"resource_id", "requesting_party" (a sub) | "requesting_party_username",
///   "scopes", "expires_at"?}` → 201 grant. Another owner's resource answers 404.
/// - `DELETE /uma/policies/{id}` → 204; the party's RPTs are revoked.
/// - `GET /uma/requests` → `{"requests": [pending…]}`
/// - `POST /uma/requests/{id}` `{"decision": "allow" | "deny"}` → 200
struct PolicyAPI {
    static let scope = "uma:policies"
    static let policiesPath = "/uma/policies"
    static let requestsPath = "/uma/requests"
    static let resourcesPath = "/uma/resources"

    let authenticator: AccessTokenVerifier
    let authority: UMAAuthority
    let store: any UMAStore
    let internalClient: InternalClient
    let time: any TimeSource
    let bodyLimit: Int

    struct NewPolicy: Decodable {
        var resourceID: String
        var requestingParty: String?
        var requestingPartyUsername: String?
        var scopes: [String]
        var expiresAt: Int64?
        enum CodingKeys: String, CodingKey {
            case resourceID = "resource_id"
            case requestingParty = "requesting_party"
            case requestingPartyUsername = "requesting_party_username"
            case scopes
            case expiresAt = "expires_at"
        }
    }

    struct Decision: Decodable {
        var decision: String
    }

    static func view(_ grant: UMAGrantRecord) -> UMAAccountView.Grant {
        UMAAccountView.Grant(id: grant.id, resourceID: grant.resourceID, requestingParty: grant.requestingParty, scopes: grant.scopes, expiresAt: grant.expiresAt)
    }

    func owner(_ request: Request, _ context: NeoSecRequestContext) async throws -> String {
        let token = try await authenticator.authenticate(request, certificateThumbprint: await context.clientCertificateThumbprint())
        try authenticator.require(Self.scope, of: token)
        return token.subject
    }

    func register(on router: Router<NeoSecRequestContext>) {
        router.get(RouterPath(stringLiteral: Self.resourcesPath)) { request, context in
            let owner = try await owner(request, context)
            struct Item: Encodable {
                var id: String
                var name: String?
                var resourceScopes: [String]
                enum CodingKeys: String, CodingKey {
                    case id = "_id"
                    case name
                    case resourceScopes = "resource_scopes"
                }
            }
            struct Listing: Encodable { var resources: [Item] }
            return try Response.json(Listing(resources: try await store.resources(owner: owner).map { Item(id: $0.id, name: $0.name, resourceScopes: $0.scopes) }))
        }
        router.get(RouterPath(stringLiteral: Self.policiesPath)) { request, context in
            let owner = try await owner(request, context)
            struct Listing: Encodable { var policies: [UMAAccountView.Grant] }
            return try Response.json(Listing(policies: try await store.grants(owner: owner).map(Self.view)))
        }
        router.post(RouterPath(stringLiteral: Self.policiesPath)) { request, context in
            let owner = try await owner(request, context)
            var request = request
            let body = try await request.jsonBody(NewPolicy.self, limit: bodyLimit)
            guard body.resourceID.utf8.count <= 128, let resource = try await store.resource(id: body.resourceID), resource.owner == owner else {
                throw ProtectionAPI.notFound
            }
            guard !body.scopes.isEmpty, body.scopes.count <= 64, body.scopes.allSatisfy(resource.scopes.contains) else {
                throw OAuthError.invalidScope("scopes must be a non-empty subset of the resource's scopes")
            }
            if let expiresAt = body.expiresAt, expiresAt <= time.epochSeconds { throw OAuthError.invalidRequest("expires_at is in the past") }
            let party = try await requestingParty(body)
            guard party != owner else { throw OAuthError.invalidRequest("an owner always has access to their own resources") }
            var scopes: [String] = []
            for scope in body.scopes where !scopes.contains(scope) { scopes.append(scope) }
            let grant = try await authority.share(owner: owner, resourceID: resource.id, requestingParty: party, scopes: scopes, expiresAt: body.expiresAt)
            context.logger.info("uma policy created", metadata: ["owner": .string(owner)])
            return try Response.json(Self.view(grant), status: .created)
        }
        router.delete(RouterPath(stringLiteral: Self.policiesPath + "/:id")) { request, context in
            let owner = try await owner(request, context)
            guard let id = context.parameters.get("id"), id.utf8.count <= 64, let grant = try await authority.unshare(owner: owner, grantID: id) else {
                throw OAuthError(.notFound, status: .notFound, description: "no such policy")
            }
            try await revokeRPTs(of: grant.requestingParty)
            return Response(status: .noContent, headers: [.cacheControl: "no-store"])
        }
        router.get(RouterPath(stringLiteral: Self.requestsPath)) { request, context in
            let owner = try await owner(request, context)
            struct Listing: Encodable { var requests: [UMAAccountView.Request] }
            return try Response.json(Listing(requests: try await authority.accountView(owner: owner).requests))
        }
        router.post(RouterPath(stringLiteral: Self.requestsPath + "/:id")) { request, context in
            let owner = try await owner(request, context)
            var request = request
            let body = try await request.jsonBody(Decision.self, limit: bodyLimit)
            guard body.decision == "allow" || body.decision == "deny" else { throw OAuthError.invalidRequest("decision must be allow or deny") }
            guard let id = context.parameters.get("id"), id.utf8.count <= 64,
                try await authority.decide(owner: owner, requestID: id, allow: body.decision == "allow") != nil
            else { throw OAuthError(.notFound, status: .notFound, description: "no such pending request") }
            return try Response.json(["request_id": id, "decision": body.decision])
        }
    }

    func requestingParty(_ body: NewPolicy) async throws -> String {
        switch (body.requestingParty, body.requestingPartyUsername) {
        case (let sub?, nil):
            guard (1...255).contains(sub.utf8.count), sub.unicodeScalars.allSatisfy({ $0.value > 0x20 && $0.value < 0x7F }) else {
                throw OAuthError.invalidRequest("malformed requesting_party")
            }
            return sub
        case (nil, let username?):
            guard (1...64).contains(username.utf8.count) else { throw OAuthError.invalidRequest("malformed requesting_party_username") }
            let answer: AccountLookupAnswer
            do {
                answer = try await internalClient.post(.authn, path: "internal/accounts/lookup", body: AccountLookupRequest(username: username), as: AccountLookupAnswer.self)
            } catch {
                throw OAuthError(.temporarilyUnavailable, status: .serviceUnavailable, description: "try again later")
            }
            guard let subject = answer.subject else { throw OAuthError.invalidRequest("unknown requesting_party_username") }
            return subject
        default:
            throw OAuthError.invalidRequest("name the requesting party by requesting_party or requesting_party_username")
        }
    }

    /// The Token Service revokes the party's RPTs, so that a withdrawn grant stops working at
    /// the resource server within its revocation bound, not when the RPT expires.
    func revokeRPTs(of party: String) async throws {
        do {
            _ = try await internalClient.post(.token, path: "internal/uma/revoke", body: UMARevokeRPTsRequest(requestingParty: party), as: UMARevokeRPTsAnswer.self)
        } catch {
            throw OAuthError(.temporarilyUnavailable, status: .serviceUnavailable, description: "the policy was removed; its tokens could not be revoked yet, try again")
        }
    }
}

/// `/internal/uma/…`: the Token Service's evaluation and claims calls, and the Authentication
/// Service's account-page calls (the owner is the signed-in user it names).
struct UMAInternalEndpoints {
    let authority: UMAAuthority
    let policies: PolicyAPI
    let limit: Int

    func register(on group: RouterGroup<NeoSecRequestContext>) {
        group.post("uma/evaluate") { request, context in
            try Self.require(context, [.token])
            var request = request
            let body = try await request.jsonBody(UMAEvaluateRequest.self, limit: limit)
            return try Response.json(try await authority.evaluate(body))
        }
        group.post("uma/claims") { request, context in
            try Self.require(context, [.token])
            var request = request
            let body = try await request.jsonBody(UMAClaimsRequest.self, limit: limit)
            return try Response.json(UMAClaimsAnswer(ticket: try await authority.submitClaims(body)))
        }
        group.post("uma/account") { request, context in
            try Self.require(context, [.authn])
            var request = request
            let body = try await request.jsonBody(UMAAccountRequest.self, limit: limit)
            return try Response.json(try await authority.accountView(owner: body.owner))
        }
        group.post("uma/decide") { request, context in
            try Self.require(context, [.authn])
            var request = request
            let body = try await request.jsonBody(UMADecisionRequest.self, limit: limit)
            let decided = try await authority.decide(owner: body.owner, requestID: body.requestID, allow: body.allow)
            return try Response.json(UMAActionAnswer(done: decided != nil))
        }
        group.post("uma/share") { request, context in
            try Self.require(context, [.authn])
            var request = request
            let body = try await request.jsonBody(UMAShareRequest.self, limit: limit)
            guard body.resourceID.utf8.count <= 128, let resource = try await authority.store.resource(id: body.resourceID), resource.owner == body.owner,
                body.requestingParty != body.owner, !body.scopes.isEmpty, body.scopes.allSatisfy(resource.scopes.contains)
            else { return try Response.json(UMAActionAnswer(done: false)) }
            var scopes: [String] = []
            for scope in body.scopes where !scopes.contains(scope) { scopes.append(scope) }
            try await authority.share(owner: body.owner, resourceID: resource.id, requestingParty: body.requestingParty, scopes: scopes, expiresAt: nil)
            return try Response.json(UMAActionAnswer(done: true))
        }
        group.post("uma/unshare") { request, context in
            try Self.require(context, [.authn])
            var request = request
            let body = try await request.jsonBody(UMAUnshareRequest.self, limit: limit)
            guard let grant = try await authority.unshare(owner: body.owner, grantID: body.grantID) else { return try Response.json(UMAActionAnswer(done: false)) }
            try await policies.revokeRPTs(of: grant.requestingParty)
            return try Response.json(UMAActionAnswer(done: true))
        }
    }

    static func require(_ context: NeoSecRequestContext, _ callers: Set<ServiceName>) throws {
        guard let caller = context.caller, callers.contains(caller) else {
            throw OAuthError(.accessDenied, status: .forbidden, description: "caller may not use this endpoint")
        }
    }
}
