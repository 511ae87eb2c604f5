import Hummingbird
import JOSE
import ServiceKit
import Storage
import WireModels

/// Admin API for accounts (`NEOSEC_ADMIN_TOKEN`, SPEC §3). Password hashes never leave the service.
///
/// - `POST /admin/accounts` — `{"username", "password", "claims": {…}}`; 201 with the account.
/// - `GET /admin/accounts`, `GET /admin/accounts/{id}`.
/// - `POST /admin/accounts/{id}/disable`, `…/enable` — disabling ends the account's sessions and
///   asks the Token Service to revoke its tokens.
/// - `POST /admin/accounts/{id}/password` — `{"password"}`; ends sessions and revokes tokens too.
/// - `POST /admin/accounts/{id}/unlock` — clears the account's failed sign-in lock.
/// - `POST /admin/accounts/{id}/totp/disable` — removes the account's TOTP credential and
///   recovery codes (a user who lost both); the next sign-in is with the password alone.
struct AdminAccountsEndpoint {
    static let usernameLength = 1...64
    static let passwordLength = 8...1024

    let accounts: any AccountStore
    let sessions: any SessionStore
    let throttle: any LoginThrottleStore
    let hasher: PasswordHasher
    let secondFactor: SecondFactor
    let tokenService: TokenServiceClient
    let time: any TimeSource
    let bodyLimit: Int

    struct CreateRequest: Decodable {
        var username: String
        var password: String
        var claims: [String: ClaimValue]?
    }

    struct PasswordRequest: Decodable {
        var password: String
    }

    struct AccountInfo: Encodable {
        var id: String
        var username: String
        var disabled: Bool
        var claims: [String: ClaimValue]
    }

    struct AccountList: Encodable {
        var accounts: [AccountInfo]
    }

    func register(on group: RouterGroup<NeoSecRequestContext>) {
        group.post("accounts") { request, context in
            var request = request
            let body = try await request.jsonBody(CreateRequest.self, limit: bodyLimit)
            let username = try Self.validUsername(body.username)
            try Self.validatePassword(body.password)
            let claims = body.claims ?? [:]
            try AccountClaims.validate(claims)
            // Cheap refusal first; the insert still decides atomically.
            guard try await accounts.find(username: username) == nil else { throw Self.usernameTaken }
            let now = time.epochSeconds
            let account = StoredAccount(
                id: RandomToken.make(bytes: 16), username: username, passwordHash: try await hasher.hash(body.password),
                claimsJSON: try AccountClaims.encode(claims), createdAt: now, updatedAt: now
            )
            guard try await accounts.insert(account) else { throw Self.usernameTaken }
            context.logger.notice("account created", metadata: ["account_id": .string(account.id)])
            return try Response.json(try Self.info(account), status: .created)
        }
        group.get("accounts") { _, _ in
            try Response.json(AccountList(accounts: try await accounts.list().map(Self.info)))
        }
        group.get("accounts/:id") { _, context in
            try Response.json(try Self.info(try await lookup(context)))
        }
        group.post("accounts/:id/disable") { _, context in
            var account = try await lookup(context)
            _ = try await accounts.setDisabled(id: account.id, disabled: true, at: time.epochSeconds)
            account.disabled = true
            try await sessions.deleteAll(accountID: account.id)
            await tokenService.revokeTokens(of: account.id, reason: "account_disabled", logger: context.logger)
            context.logger.notice("account disabled", metadata: ["account_id": .string(account.id)])
            return try Response.json(try Self.info(account))
        }
        group.post("accounts/:id/enable") { _, context in
            var account = try await lookup(context)
            _ = try await accounts.setDisabled(id: account.id, disabled: false, at: time.epochSeconds)
            account.disabled = false
            context.logger.notice("account enabled", metadata: ["account_id": .string(account.id)])
            return try Response.json(try Self.info(account))
        }
        group.post("accounts/:id/password") { request, context in
            var request = request
            let account = try await lookup(context)
            let body = try await request.jsonBody(PasswordRequest.self, limit: bodyLimit)
            try Self.validatePassword(body.password)
            _ = try await accounts.setPasswordHash(id: account.id, passwordHash: try await hasher.hash(body.password), at: time.epochSeconds)
            try await sessions.deleteAll(accountID: account.id)
            await tokenService.revokeTokens(of: account.id, reason: "password_reset", logger: context.logger)
            context.logger.notice("account password set", metadata: ["account_id": .string(account.id)])
            return try Response.json(try Self.info(account))
        }
        group.post("accounts/:id/unlock") { _, context in
            let account = try await lookup(context)
            try await throttle.unlock(key: AuthnWeb.accountKey(account.username))
            context.logger.notice("account unlocked", metadata: ["account_id": .string(account.id)])
            return try Response.json(try Self.info(account))
        }
        group.post("accounts/:id/totp/disable") { _, context in
            let account = try await lookup(context)
            try await secondFactor.disable(accountID: account.id)
            context.logger.notice("account two-step verification removed", metadata: ["account_id": .string(account.id)])
            return try Response.json(try Self.info(account))
        }
    }

    private func lookup(_ context: NeoSecRequestContext) async throws -> StoredAccount {
        let id = try context.parameters.require("id")
        guard id.utf8.count <= 255, let account = try await accounts.find(id: id) else { throw Self.notFound }
        return account
    }

    /// 1–64 characters of `[a-z0-9._@-]`, after lower-casing.
    static func validUsername(_ raw: String) throws(OAuthError) -> String {
        let username = raw.lowercased()
        guard usernameLength.contains(username.utf8.count),
            username.utf8.allSatisfy({ (48...57).contains($0) || (97...122).contains($0) || [46, 95, 64, 45].contains($0) })
        else { throw OAuthError.invalidRequest("username must be 1 to 64 characters of a-z, 0-9, '.', '_', '@', '-'") }
        return username
    }

    static func validatePassword(_ password: String) throws(OAuthError) {
        guard passwordLength.contains(password.count) else {
            throw OAuthError.invalidRequest("password must be 8 to 1024 characters")
        }
    }

    static func info(_ account: StoredAccount) throws -> AccountInfo {
        AccountInfo(id: account.id, username: account.username, disabled: account.disabled, claims: try AccountClaims.decode(account.claimsJSON))
    }

    static let notFound = OAuthError(.invalidRequest, status: .notFound, description: "unknown account")
    static let usernameTaken = OAuthError(.invalidRequest, status: .conflict, description: "username already taken")
}
