import Crypto
import Foundation
import Hummingbird
import JOSE
import ServiceKit

/// CSRF protection for every form (SPEC §3, §8): the signed double-submit cookie of the OWASP
/// CSRF Prevention Cheat Sheet.
///
/// The browser holds a random `neosec_csrf` cookie (HttpOnly, SameSite=Lax); each form carries
/// `csrf_token` = base64url(HMAC-SHA256(K, cookie)), with K derived from the master key by HKDF
/// (RFC 5869, info `neosec-authn-csrf`). A cross-site page can neither read the cookie nor
/// compute the token, and a cookie planted by a sibling subdomain is useless without K.
struct CSRFProtection: Sendable {
    static let cookieName = "neosec_csrf"
    static let fieldName = "csrf_token"
    static let cookieBytes = 32

    private let key: SymmetricKey
    let secureCookies: Bool
    let pages: PageRenderer

    init(masterKey: [UInt8], secureCookies: Bool, pages: PageRenderer) {
        key = HKDF<SHA256>.deriveKey(inputKeyMaterial: SymmetricKey(data: masterKey), info: Array("neosec-authn-csrf".utf8), outputByteCount: 32)
        self.secureCookies = secureCookies
        self.pages = pages
    }

    /// The token for the forms of a page, and the cookie to set when the browser has none yet.
    struct Issued: Sendable {
        let token: String
        let cookie: Cookie?
    }

    func issue(for request: Request) -> Issued {
        if let value = Self.cookieValue(request) {
            return Issued(token: token(for: value), cookie: nil)
        }
        let value = RandomToken.make(bytes: Self.cookieBytes)
        let cookie = Cookie(name: Self.cookieName, value: value, path: "/", secure: secureCookies, httpOnly: true, sameSite: .lax)
        return Issued(token: token(for: value), cookie: cookie)
    }

    /// Refuses a form whose `csrf_token` does not match the browser's cookie (constant time).
    func verify(_ request: Request, form: FormParameters) throws(HTMLError) {
        guard let value = Self.cookieValue(request), let submitted = form[Self.fieldName],
            ConstantTime.equals(token(for: value), submitted)
        else {
            throw pages.error(.forbidden, heading: "Session expired", message: "Your session expired; go back and try again.")
        }
    }

    private func token(for value: String) -> String {
        HMAC<SHA256>.authenticationCode(for: Array(value.utf8), using: key).withUnsafeBytes { Base64URL.encode($0) }
    }

    /// The cookie, when it has the shape we issue (43 base64url characters).
    static func cookieValue(_ request: Request) -> String? {
        guard let value = request.cookies[cookieName]?.value, value.utf8.count == 43, Base64URL.decode(value)?.count == cookieBytes else {
            return nil
        }
        return value
    }
}

extension Response {
    /// Adds each cookie that is there.
    mutating func setCookies(_ cookies: Cookie?...) {
        for case let cookie? in cookies { setCookie(cookie) }
    }
}
