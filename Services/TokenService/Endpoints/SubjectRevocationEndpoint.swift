import Hummingbird
import JOSE
import ServiceKit
import Storage
import WireModels

/// `POST /internal/revocations` (internal, Authentication Service only): every token issued to a
/// subject — optionally only through one client — up to now stops being accepted. Used on
/// logout, password reset, account disable and "revoke this app".
struct SubjectRevocationEndpoint {
    static let allowedCallers: Set<ServiceName> = [.authn]
    let store: any SubjectRevocationStore
    let time: any TimeSource
    let limit: Int

    func register(on group: RouterGroup<NeoSecRequestContext>) {
        group.post("revocations") { request, context in
            guard let caller = context.caller, Self.allowedCallers.contains(caller) else {
                throw OAuthError(.accessDenied, status: .forbidden, description: "caller may not revoke")
            }
            var request = request
            let body = try await request.jsonBody(SubjectRevocationRequest.self, limit: limit)
            guard Self.isValidIdentifier(body.subject), body.clientID.map(Self.isValidIdentifier) ?? true,
                ["logout", "password_reset", "account_disabled", "app_revoked", "admin"].contains(body.reason)
            else {
                throw OAuthError.invalidRequest("invalid subject, client_id or reason")
            }
            let notBefore = try await store.revoke(subject: body.subject, clientID: body.clientID, at: time.epochSeconds, reason: body.reason)
            context.logger.info("subject tokens revoked", metadata: ["reason": .string(body.reason)])
            return try Response.json(SubjectRevocationResponse(subject: body.subject, clientID: body.clientID, notBefore: notBefore), status: .ok)
        }
    }

    /// Subjects and client ids are printable ASCII identifiers of bounded length.
    static func isValidIdentifier(_ value: String) -> Bool {
        !value.isEmpty && value.utf8.count <= 255 && value.utf8.allSatisfy { $0 > 0x20 && $0 < 0x7F }
    }
}
