import Hummingbird
import ServiceKit
import Storage
import WireModels

/// `POST /internal/uma/revoke` (internal, UMA service only): an owner withdrew a grant, so every
/// RPT of that requesting party is revoked; the party's next RPT is evaluated afresh.
struct UMARevocationEndpoint {
    let tokens: any TokenStore
    let limit: Int

    func register(on group: RouterGroup<NeoSecRequestContext>) {
        group.post("uma/revoke") { request, context in
            guard context.caller == .uma else { throw OAuthError(.accessDenied, status: .forbidden, description: "caller may not revoke RPTs") }
            var request = request
            let body = try await request.jsonBody(UMARevokeRPTsRequest.self, limit: limit)
            guard (1...255).contains(body.requestingParty.utf8.count) else { throw OAuthError.invalidRequest("malformed requesting_party") }
            let revoked = try await tokens.revokeIssued(from: UMAGrant.parent(ofRequestingParty: body.requestingParty))
            context.logger.info("rpts revoked", metadata: ["count": .stringConvertible(revoked)])
            return try Response.json(UMARevokeRPTsAnswer(revoked: revoked))
        }
    }
}
