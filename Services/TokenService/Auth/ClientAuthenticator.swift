import Foundation
import Hummingbird
import JOSE
import ServiceKit
import Storage
import WireModels

/// Client authentication at the token endpoint (RFC 6749 §2.3, RFC 7523 §2.2, OpenID Connect
/// Core §9). Exactly one method may be used, and it must be the one the client registered.
/// Every failure is `invalid_client` (401 with a Basic challenge, whatever method was tried), except
/// a request using several methods at once, which is `invalid_request`.
struct ClientAuthenticator: Sendable {
    static let assertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
    /// Client assertions must expire within this many seconds (a long-lived assertion is a bearer
    /// secret). One hour, because common clients (Authlib among them) sign for exactly that.
    static let maximumAssertionLifetime: Int64 = 3600

    let registry: ClientRegistry
    let replay: any ReplayStore
    let time: any TimeSource
    /// Values accepted as an assertion's `aud`: the token endpoint URL and the issuer.
    let audiences: Set<String>
    let realm: String

    struct Presented {
        var basic: (id: String, secret: String)?
        var usedBasic: Bool
        var formSecret: String?
        var assertion: String?
        var formClientID: String?
    }

    func authenticate(_ request: Request, form: FormParameters) async throws -> RegisteredClient {
        let presented = try parse(request, form: form)
        // Built only when thrown: a successful authentication does not pay for the error value.
        var fail: OAuthError { OAuthError.invalidClient(realm: realm) }

        let methodsUsed = [presented.usedBasic, presented.formSecret != nil, presented.assertion != nil].filter { $0 }.count
        guard methodsUsed <= 1 else { throw OAuthError.invalidRequest("use exactly one client authentication method") }

        let method: ClientAuthMethod
        let clientID: String
        if let basic = presented.basic {
            method = .clientSecretBasic
            if let formID = presented.formClientID, formID != basic.id { throw OAuthError.invalidRequest("client_id does not match the credentials") }
            clientID = basic.id
        } else if presented.usedBasic {
            throw fail
        } else if presented.formSecret != nil {
            method = .clientSecretPost
            guard let id = presented.formClientID else { throw fail }
            clientID = id
        } else if let assertion = presented.assertion {
            method = .privateKeyJWT
            guard form["client_assertion_type"] == Self.assertionType else {
                throw OAuthError.invalidRequest("client_assertion_type must be \(Self.assertionType)")
            }
            guard let subject = JWS.unverifiedStringClaim("sub", of: assertion) else { throw fail }
            if let formID = presented.formClientID, formID != subject { throw fail }
            clientID = subject
        } else {
            method = .none
            guard let id = presented.formClientID else { throw fail }
            clientID = id
        }

        guard let client = try await registry.client(clientID) else {
            // Same work as a real check, so that timing does not reveal which ids exist.
            _ = ClientSecret.matches(presented.basic?.secret ?? presented.formSecret ?? "", hash: String(repeating: "0", count: 64))
            throw fail
        }
        guard client.authMethod == method else { throw fail }
        switch method {
        case .clientSecretBasic, .clientSecretPost:
            let secret = presented.basic?.secret ?? presented.formSecret ?? ""
            guard let hash = client.secretHash, ClientSecret.matches(secret, hash: hash) else { throw fail }
        case .privateKeyJWT:
            try await verifyAssertion(presented.assertion!, client: client, fail: fail)
        case .none:
            break
        }
        return client
    }

    func parse(_ request: Request, form: FormParameters) throws -> Presented {
        var presented = Presented(basic: nil, usedBasic: false, formSecret: form["client_secret"], assertion: form["client_assertion"], formClientID: form["client_id"])
        if let authorization = request.headers.value(.authorization), AuthorizationHeader.hasScheme(authorization, "basic") {
            presented.usedBasic = true
            presented.basic = Self.decodeBasic(String(decoding: authorization.utf8.dropFirst(6), as: UTF8.self))
        }
        return presented
    }

    /// RFC 6749 §2.3.1: the id and secret are form-urlencoded before Base64.
    static func decodeBasic(_ value: String) -> (id: String, secret: String)? {
        guard value.utf8.count <= 4096, let bytes = Base64URL.decodePadded(value), let colon = bytes.firstIndex(of: UInt8(ascii: ":")),
            let id = try? FormParameters.decode(bytes[..<colon]), !id.isEmpty,
            let secret = try? FormParameters.decode(bytes[(colon + 1)...])
        else { return nil }
        return (id, secret)
    }

    struct AssertionClaims: JOSEClaims {
        var iss: String
        var sub: String
        var aud: Audience
        var exp: Int64
        var iat: Int64?
        var nbf: Int64?
        var jti: String
    }

    func verifyAssertion(_ assertion: String, client: RegisteredClient, fail: OAuthError) async throws {
        let claims: AssertionClaims
        do {
            let kid = try? JWS.header(of: assertion).kid
            claims = try await JWS.verify(assertion, as: AssertionClaims.self, keys: await registry.assertionKeys(client, kid: kid), acceptedTypes: [nil, "JWT"]).claims
        } catch {
            throw fail
        }
        let now = time.epochSeconds
        guard claims.iss == client.id, claims.sub == client.id,
            !claims.aud.values.isEmpty, claims.aud.values.contains(where: audiences.contains),
            claims.exp > now, claims.exp <= now + Self.maximumAssertionLifetime + 5,
            (claims.nbf ?? now) <= now + 5, (claims.iat ?? now) <= now + 5,
            !claims.jti.isEmpty, claims.jti.utf8.count <= 256
        else { throw fail }
        guard try await replay.claim(scope: "client-assertion:\(client.id)", id: claims.jti, expiresAt: claims.exp, now: now) else { throw fail }
    }
}
