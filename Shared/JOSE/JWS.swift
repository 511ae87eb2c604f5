public import Foundation
public import JWTKit

/// Claims types verified through `JWS.verify`. Claim checks that need context (time, audience,
/// replay) are done by the caller against an injected clock, so jwt-kit's hook is a no-op.
public protocol JOSEClaims: JWTPayload {}

extension JOSEClaims {
    public func verify(using algorithm: some JWTAlgorithm) async throws {}
}

/// The protected header as we read it before any key is chosen.
public struct JWSHeader: Decodable, Sendable, Equatable {
    public var alg: String
    public var kid: String?
    public var typ: String?
    public var crit: [String]?
    public var jwk: [String: String]?
}

/// Compact JWS verification with every check fail-closed, done before jwt-kit sees the token:
/// size, shape, strict base64url, `alg` among those allowed, `kid` present and known, the key's
/// pinned algorithm equal to `alg`, `typ` as expected, and no `crit` we do not understand. Only
/// then is the signature checked, with a collection holding that one key — jwt-kit's fallback to a
/// default key for a missing or unknown `kid` can never apply.
public enum JWS {
    public static let maximumLength = 16 * 1024

    /// Parses the header of a compact JWS without verifying anything.
    public static func header(of token: String) throws -> JWSHeader {
        guard token.utf8.count <= maximumLength else { throw JOSEError.malformed }
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, !parts[0].isEmpty, !parts[1].isEmpty, !parts[2].isEmpty else { throw JOSEError.malformed }
        guard Base64URL.decode(parts[1]) != nil, Base64URL.decode(parts[2]) != nil,
            let headerData = Base64URL.decode(parts[0])
        else { throw JOSEError.malformed }
        do {
            return try JSONDecoder().decode(JWSHeader.self, from: headerData)
        } catch {
            throw JOSEError.malformed
        }
    }

    /// A string claim read from the payload WITHOUT verifying anything: only for choosing which
    /// keys to verify with (the caller, the client), never for a decision.
    public static func unverifiedStringClaim(_ name: String, of token: String) -> String? {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard token.utf8.count <= maximumLength, parts.count == 3, let payload = Base64URL.decode(parts[1]),
            let object = try? JSONSerialization.jsonObject(with: payload) as? [String: Any]
        else { return nil }
        return object[name] as? String
    }

    /// Verifies `token` and decodes its claims.
    /// - Parameters:
    ///   - keys: the candidate keys, by `kid`.
    ///   - type: the required `typ` (compared as RFC 7515 §4.1.9 says: case-insensitively, with
    ///     an omitted `application/` prefix).
    public static func verify<Claims: JOSEClaims>(
        _ token: String,
        as: Claims.Type,
        keys: [String: VerificationKey],
        type: String
    ) async throws -> (header: JWSHeader, claims: Claims) {
        try await verify(token, as: Claims.self, keys: keys, acceptedTypes: [type])
    }

    /// As `verify(_:as:keys:type:)`, accepting any of `acceptedTypes`; a nil entry accepts a
    /// header without `typ` (RFC 7523 client assertions commonly omit it or say `JWT`).
    public static func verify<Claims: JOSEClaims>(
        _ token: String,
        as: Claims.Type,
        keys: [String: VerificationKey],
        acceptedTypes: [String?]
    ) async throws -> (header: JWSHeader, claims: Claims) {
        let header = try header(of: token)
        guard let algorithm = SigningAlgorithm(rawValue: header.alg) else { throw JOSEError.unsupportedAlgorithm }
        guard let kid = header.kid, !kid.isEmpty else { throw JOSEError.missingKeyID }
        guard let key = keys[kid] else { throw JOSEError.unknownKeyID }
        guard key.algorithm == algorithm else { throw JOSEError.algorithmMismatch }
        let typeAccepted = acceptedTypes.contains { accepted in
            switch (accepted, header.typ) {
            case (nil, nil): true
            case (let accepted?, let typ?): normalizedType(typ) == normalizedType(accepted)
            default: false
            }
        }
        guard typeAccepted else { throw JOSEError.wrongType }
        guard header.crit == nil else { throw JOSEError.malformed }
        do {
            let claims = try await key.collection.verify(token, as: Claims.self)
            return (header, claims)
        } catch {
            throw JOSEError.badSignature
        }
    }

    static func normalizedType(_ type: String) -> String {
        let lowered = type.lowercased()
        return lowered.hasPrefix("application/") ? String(lowered.dropFirst("application/".count)) : lowered
    }
}
