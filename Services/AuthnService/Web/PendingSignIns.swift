import Hummingbird
import JOSE
import ServiceKit
import Storage

/// Sign-ins between the password and the second factor: the password was right, no session
/// exists yet. The browser holds a 256-bit random `neosec_mfa` cookie (HttpOnly, SameSite=Lax,
/// scoped to the login paths); the server keeps a row keyed by its SHA-256 with the account and
/// the login challenge, good for 5 minutes and used up by the second step. Nothing about the
/// account travels in the cookie, so it can be neither forged nor moved to another account.
struct PendingSignInManager: Sendable {
    static let cookieName = "neosec_mfa"
    static let lifetime: Int64 = 300
    static let cookieBytes = 32

    let store: any MFAStore
    let time: any TimeSource
    let secureCookies: Bool
    /// The login paths under the service's base path.
    let cookiePath: String

    /// Remembers that `accountID` passed the password step, replacing the browser's earlier
    /// pending sign-in; returns the cookie to set.
    func start(accountID: String, challenge: String?, replacing request: Request) async throws -> Cookie {
        if let old = Self.cookieValue(request) {
            try await store.deletePendingSecondFactor(idHash: CredentialHash.hex(old))
        }
        let value = RandomToken.make(bytes: Self.cookieBytes)
        let now = time.epochSeconds
        try await store.createPendingSecondFactor(
            PendingSecondFactor(
                idHash: CredentialHash.hex(value), accountID: accountID, challenge: challenge, createdAt: now, expiresAt: now + Self.lifetime
            )
        )
        return cookie(value, maxAge: Int(Self.lifetime))
    }

    /// The browser's pending sign-in, unless missing, unknown or expired.
    func current(_ request: Request) async throws -> PendingSecondFactor? {
        guard let value = Self.cookieValue(request) else { return nil }
        return try await store.findPendingSecondFactor(idHash: CredentialHash.hex(value), now: time.epochSeconds)
    }

    /// Uses the pending sign-in up: of two requests presenting the same cookie, one gets it.
    func consume(_ request: Request) async throws -> PendingSecondFactor? {
        guard let value = Self.cookieValue(request),
            let pending = try await store.deletePendingSecondFactor(idHash: CredentialHash.hex(value)),
            pending.expiresAt > time.epochSeconds
        else { return nil }
        return pending
    }

    /// Tells the browser to drop its pending sign-in cookie.
    var clearingCookie: Cookie { cookie("", maxAge: 0) }

    private func cookie(_ value: String, maxAge: Int) -> Cookie {
        Cookie(name: Self.cookieName, value: value, maxAge: maxAge, path: cookiePath, secure: secureCookies, httpOnly: true, sameSite: .lax)
    }

    /// The cookie, when it has the shape we issue (43 base64url characters).
    static func cookieValue(_ request: Request) -> String? {
        guard let value = request.cookies[cookieName]?.value, value.utf8.count == 43, Base64URL.decode(value)?.count == cookieBytes else {
            return nil
        }
        return value
    }
}
