import Hummingbird
import JOSE
import ServiceKit
import Storage
import WireModels

/// `POST /internal/password/verify` (internal, Token Service only): checks a username and
/// password for the resource owner password credentials grant (RFC 6749 §4.3), with the same
/// throttling (per account), constant work and rehashing as the login page. Accounts with a
/// second factor never pass: the grant cannot carry one (RFC 9700 §2.4).
struct PasswordVerifyEndpoint {
    static let allowedCallers: Set<ServiceName> = [.token]

    let accounts: any AccountStore
    let throttle: any LoginThrottleStore
    let hasher: PasswordHasher
    let time: any TimeSource
    let limit: Int
    /// Whether the account has a second factor enrolled.
    let hasSecondFactor: @Sendable (String) async throws -> Bool

    func register(on group: RouterGroup<NeoSecRequestContext>) {
        group.post("password/verify") { request, context in
            guard let caller = context.caller, Self.allowedCallers.contains(caller) else {
                throw OAuthError(.accessDenied, status: .forbidden, description: "caller may not verify passwords")
            }
            var request = request
            let body = try await request.jsonBody(PasswordVerifyRequest.self, limit: limit)
            let username = body.username.trimmingCharacters(in: .whitespaces).lowercased()
            guard !username.isEmpty, username.utf8.count <= 64, !body.password.isEmpty, body.password.utf8.count <= 1024 else {
                return try Response.json(PasswordVerifyAnswer(valid: false))
            }
            let now = time.epochSeconds
            let accountKey = AuthnWeb.accountKey(username)
            if try await throttle.check(key: accountKey, now: now) != nil {
                context.logger.notice("password grant throttled")
                return try Response.json(PasswordVerifyAnswer(valid: false))
            }
            let account = try await accounts.find(username: username)
            let matches = try await hasher.verify(password: body.password, encoded: account?.passwordHash ?? hasher.dummyHash)
            guard let account, matches, !account.disabled else {
                _ = try await throttle.recordFailure(key: accountKey, now: now, policy: .account)
                context.logger.notice("password grant: bad credentials")
                return try Response.json(PasswordVerifyAnswer(valid: false))
            }
            // The counter is cleared only for accounts this grant may sign in: for one with a
            // second factor, the password alone must not reset the count of failed codes.
            guard try await !hasSecondFactor(account.id) else {
                context.logger.notice("password grant refused: account has a second factor", metadata: ["account_id": .string(account.id)])
                return try Response.json(PasswordVerifyAnswer(valid: false))
            }
            try await throttle.reset(key: accountKey)
            context.logger.info("password grant: credentials verified", metadata: ["account_id": .string(account.id), "client_id": .string(body.clientID)])
            return try Response.json(PasswordVerifyAnswer(valid: true, subject: account.id, authTime: now, acr: LoginEndpoint.acr, amr: ["pwd"]))
        }
    }
}
