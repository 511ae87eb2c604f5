import Hummingbird
import ServiceKit
import Storage
import WireModels

/// `POST /internal/userinfo` (internal, Token Service only): the stored claims of an account,
/// unfiltered; the Token Service releases only what the token's scopes allow (OpenID Connect
/// Core §5.3–§5.4). An unknown or disabled account is `found: false`, not an error, so the
/// caller can answer its own client with `invalid_token`.
struct UserinfoEndpoint {
    static let allowedCallers: Set<ServiceName> = [.token]

    let accounts: any AccountStore
    let limit: Int

    func register(on group: RouterGroup<NeoSecRequestContext>) {
        group.post("userinfo") { request, context in
            guard let caller = context.caller, Self.allowedCallers.contains(caller) else {
                throw OAuthError(.accessDenied, status: .forbidden, description: "caller may not read user claims")
            }
            var request = request
            let body = try await request.jsonBody(SubjectRef.self, limit: limit)
            guard !body.subject.isEmpty, body.subject.utf8.count <= 255,
                let account = try await accounts.find(id: body.subject), !account.disabled
            else {
                return try Response.json(UserClaims(found: false, claims: [:]))
            }
            return try Response.json(UserClaims(found: true, claims: try AccountClaims.released(account)))
        }
    }
}
