public import Foundation
#if canImport(Glibc)
import Glibc
#endif
public import JOSE
import JWTKit
public import Logging
public import Storage
public import WireModels

/// Claims of an internal-call token (SPEC §6): who calls (`iss`), whom (`aud`), for how long
/// (`exp` ≤ 60 s after `iat`), and a unique `jti` rejected on replay.
public struct ServiceTokenClaims: JOSEClaims, Equatable {
    public var iss: String
    public var aud: String
    public var iat: Int64
    public var exp: Int64
    public var jti: String

    public init(iss: String, aud: String, iat: Int64, exp: Int64, jti: String) {
        self.iss = iss
        self.aud = aud
        self.iat = iat
        self.exp = exp
        self.jti = jti
    }
}

/// Internal-call tokens have their own `typ`, and are signed with keys of their own purpose
/// published at `/internal/jwks.json`, so they never verify as access tokens nor the reverse.
public enum ServiceToken {
    public static let type = "neosec-service+jwt"
    public static let keyPurpose = "internal"
    public static let lifetime: Int64 = 30
    public static let maximumLifetime: Int64 = 60
    public static let clockSkew: Int64 = 5
    public static let realm = "neosec-internal"
}

/// Mints internal-call tokens for one calling service.
public struct ServiceTokenIssuer: Sendable {
    public let caller: ServiceName
    private let keys: KeyRing
    private let time: any TimeSource

    public init(caller: ServiceName, keys: KeyRing, time: any TimeSource) {
        self.caller = caller
        self.keys = keys
        self.time = time
    }

    public func token(for audience: ServiceName) async throws -> String {
        let now = time.epochSeconds
        let claims = ServiceTokenClaims(
            iss: caller.rawValue,
            aud: audience.rawValue,
            iat: now,
            exp: now + ServiceToken.lifetime,
            jti: RandomToken.make(bytes: 16)
        )
        return try await keys.signingKey(.es256).sign(claims, type: ServiceToken.type)
    }
}

/// Where a service finds the public internal-call keys of its callers.
public protocol ServiceKeyResolver: Sendable {
    /// The caller's keys, by kid. `refresh` asks for a fresh copy (the token named an unknown kid).
    func keys(for caller: ServiceName, refresh: Bool) async throws -> [String: VerificationKey]
}

/// Verifies internal-call tokens presented to one service. Every failure is the same 401
/// `invalid_token` to the caller; the reason is logged (never the token).
public struct ServiceTokenVerifier: Sendable {
    public let service: ServiceName
    public let allowedCallers: Set<ServiceName>
    private let resolver: any ServiceKeyResolver
    private let replay: any ReplayStore
    private let time: any TimeSource

    public init(service: ServiceName, allowedCallers: Set<ServiceName>, resolver: any ServiceKeyResolver, replay: any ReplayStore, time: any TimeSource) {
        self.service = service
        self.allowedCallers = allowedCallers
        self.resolver = resolver
        self.replay = replay
        self.time = time
    }

    /// Why a token was refused, for logs and tests.
    public enum Rejection: String, Error, Sendable {
        case malformed, callerNotAllowed, keysUnavailable, badSignature, wrongAudience, expired, notYetValid, lifetimeTooLong, replayed
    }

    /// Returns the authenticated caller, or throws a `Rejection`.
    public func verify(_ token: String) async throws(Rejection) -> ServiceName {
        // Read the claimed caller first, so that a caller outside the allow-list costs nothing:
        // no key fetch, no signature check, no replay-store write.
        guard let unverified = JWS.unverifiedStringClaim("iss", of: token), let caller = ServiceName(rawValue: unverified) else { throw .malformed }
        guard allowedCallers.contains(caller) else { throw .callerNotAllowed }
        let header: JWSHeader
        do { header = try JWS.header(of: token) } catch { throw .malformed }
        var keys: [String: VerificationKey]
        do {
            keys = try await resolver.keys(for: caller, refresh: false)
            if let kid = header.kid, keys[kid] == nil {
                keys = try await resolver.keys(for: caller, refresh: true)
            }
        } catch {
            throw .keysUnavailable
        }
        let claims: ServiceTokenClaims
        do {
            claims = try await JWS.verify(token, as: ServiceTokenClaims.self, keys: keys, type: ServiceToken.type).claims
        } catch {
            throw .badSignature
        }
        let now = time.epochSeconds
        guard claims.iss == caller.rawValue else { throw .malformed }
        guard claims.aud == service.rawValue else { throw .wrongAudience }
        guard claims.exp > now else { throw .expired }
        guard claims.iat <= now + ServiceToken.clockSkew else { throw .notYetValid }
        guard claims.exp - claims.iat <= ServiceToken.maximumLifetime, claims.exp > claims.iat else { throw .lifetimeTooLong }
        guard !claims.jti.isEmpty, claims.jti.utf8.count <= 128 else { throw .malformed }
        do {
            guard try await replay.claim(scope: "service-token:\(caller.rawValue)", id: claims.jti, expiresAt: claims.exp, now: now) else { throw Rejection.replayed }
        } catch let rejection as Rejection {
            throw rejection
        } catch {
            throw .keysUnavailable
        }
        return caller
    }
}

/// Cryptographically random URL-safe strings, for identifiers and credentials.
public enum RandomToken {
    public static func make(bytes count: Int) -> String {
        Base64URL.encode(randomBytes(count))
    }

    /// `count` bytes from the system CSPRNG: one `arc4random_buf` call on Linux (glibc ≥ 2.36:
    /// `getrandom(2)` underneath; it aborts rather than return weak bytes, as
    /// `SystemRandomNumberGenerator` does). Each token used to cost one call per eight bytes.
    public static func randomBytes(_ count: Int) -> [UInt8] {
        guard count > 0 else { return [] }
        #if canImport(Glibc)
        return [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            arc4random_buf(buffer.baseAddress!, count)
            initialized = count
        }
        #else
        var generator = SystemRandomNumberGenerator()
        var bytes: [UInt8] = []
        bytes.reserveCapacity(count + 8)
        while bytes.count < count {
            withUnsafeBytes(of: generator.next() as UInt64) { bytes.append(contentsOf: $0) }
        }
        return Array(bytes.prefix(count))
        #endif
    }
}
