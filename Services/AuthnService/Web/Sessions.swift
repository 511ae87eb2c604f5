import Foundation
import Hummingbird
import JOSE
import ServiceKit
import Storage

/// Browser sessions (OWASP Session Management Cheat Sheet): a 256-bit random cookie
/// `neosec_session` (HttpOnly, SameSite=Lax, Path=/, Secure over https), stored only as its
/// SHA-256, good for 12 hours. Every sign-in gets a new session and deletes the one the browser
/// presented, so a session id planted before login is worthless (no fixation).
struct SessionManager: Sendable {
    static let cookieName = "neosec_session"
    static let lifetime: Int64 = 12 * 3600
    static let cookieBytes = 32
    static let sidBytes = 16

    let store: any SessionStore
    let accounts: any AccountStore
    let time: any TimeSource
    let secureCookies: Bool

    /// A live session and its (enabled) account.
    struct SignedIn: Sendable {
        let session: StoredSession
        let account: StoredAccount
    }

    /// The browser's session, unless it is missing, unknown, expired, or its account is gone or disabled.
    func current(_ request: Request) async throws -> SignedIn? {
        guard let value = Self.cookieValue(request),
            let session = try await store.find(idHash: CredentialHash.hex(value), now: time.epochSeconds),
            let account = try await accounts.find(id: session.accountID), !account.disabled
        else { return nil }
        return SignedIn(session: session, account: account)
    }

    /// A fresh session for an account that just authenticated, replacing the browser's old one.
    func start(accountID: String, acr: String, amr: [String], replacing request: Request) async throws -> (session: StoredSession, cookie: Cookie) {
        if let old = Self.cookieValue(request) {
            try await store.delete(idHash: CredentialHash.hex(old))
        }
        let value = RandomToken.make(bytes: Self.cookieBytes)
        let now = time.epochSeconds
        let session = StoredSession(
            idHash: CredentialHash.hex(value), sid: RandomToken.make(bytes: Self.sidBytes), accountID: accountID, authTime: now, acr: acr,
            amr: amr, createdAt: now, expiresAt: now + Self.lifetime
        )
        try await store.create(session)
        return (session, cookie(value, maxAge: Int(Self.lifetime)))
    }

    /// After a password change: ends every session of the account, this one included, and gives
    /// this browser a new session with a new cookie and `sid` but the same sign-in facts
    /// (`auth_time`, `acr`, `amr`) and expiry. A cookie stolen before the change dies with it.
    func keepOnly(_ signedIn: SignedIn) async throws -> Cookie {
        try await store.deleteAll(accountID: signedIn.account.id)
        let value = RandomToken.make(bytes: Self.cookieBytes)
        var session = signedIn.session
        session.idHash = CredentialHash.hex(value)
        session.sid = RandomToken.make(bytes: Self.sidBytes)
        try await store.create(session)
        return cookie(value, maxAge: Int(max(0, session.expiresAt - time.epochSeconds)))
    }

    /// Deletes the browser's session; returns it when there was one.
    func end(_ request: Request) async throws -> StoredSession? {
        guard let value = Self.cookieValue(request) else { return nil }
        return try await store.delete(idHash: CredentialHash.hex(value))
    }

    /// Tells the browser to drop its session cookie.
    var clearingCookie: Cookie { cookie("", maxAge: 0) }

    private func cookie(_ value: String, maxAge: Int) -> Cookie {
        Cookie(name: Self.cookieName, value: value, maxAge: maxAge, path: "/", secure: secureCookies, httpOnly: true, sameSite: .lax)
    }

    /// The cookie, when it has the shape we issue (43 base64url characters).
    static func cookieValue(_ request: Request) -> String? {
        guard let value = request.cookies[cookieName]?.value, value.utf8.count == 43, Base64URL.decode(value)?.count == cookieBytes else {
            return nil
        }
        return value
    }
}
