import Hummingbird
import ServiceKit
import WireModels

/// Admin API for trusted external issuers (`NEOSEC_ADMIN_TOKEN`), whose JWTs the JWT bearer
/// grant (RFC 7523) and token exchange (RFC 8693 `jwt` tokens) accept:
///
/// - `POST /admin/trusts` — `TrustedIssuerMetadata` JSON; creates or replaces the trust of its
///   `issuer`; 201 with the stored metadata.
/// - `GET /admin/trusts` — `{"trusts": [...]}`.
/// - `DELETE /admin/trusts?issuer=…` — 204; 404 when there was none.
struct AdminTrustsEndpoint {
    let trusts: TrustedIssuers
    let bodyLimit: Int

    func register(on group: RouterGroup<NeoSecRequestContext>) {
        group.post("trusts") { request, context in
            var request = request
            let metadata = try await request.jsonBody(TrustedIssuerMetadata.self, limit: bodyLimit)
            let stored = try await trusts.put(metadata)
            context.logger.notice("issuer trusted", metadata: ["issuer": .string(stored.issuer)])
            return try Response.json(stored, status: .created)
        }
        group.get("trusts") { _, _ in
            try Response.json(["trusts": try await trusts.list()])
        }
        group.delete("trusts") { request, context in
            guard let issuer = request.uri.queryParameters.get("issuer"), !issuer.isEmpty else {
                throw OAuthError.invalidRequest("issuer query parameter is required")
            }
            guard try await trusts.delete(issuer: issuer) else {
                throw OAuthError(.invalidRequest, status: .notFound, description: "unknown issuer")
            }
            context.logger.notice("issuer trust removed", metadata: ["issuer": .string(issuer)])
            return Response(status: .noContent)
        }
    }
}
