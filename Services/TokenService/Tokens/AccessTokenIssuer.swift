import Foundation
import JOSE
import ServiceKit
import Storage
import WireModels

/// RFC 9068 §2.2 access token claims.
struct AccessTokenClaims: JOSEClaims, Equatable {
    var iss: String
    var sub: String
    var aud: Audience
    var exp: Int64
    var iat: Int64
    var jti: String
    var clientID: String
    var scope: String?
    var authTime: Int64?
    var acr: String?
    var cnf: Confirmation?
    var permissions: [UMAPermission]?
    /// RFC 8693 §4.1: the acting party of a delegated token, prior actors nested inside.
    var act: JSONValue?

    enum CodingKeys: String, CodingKey {
        case iss, sub, aud, exp, iat, jti, scope, acr, cnf, permissions, act
        case clientID = "client_id"
        case authTime = "auth_time"
    }

    /// The JWT payload, written by hand (`JSONObjectWriter`): the same object the `Encodable`
    /// conformance produces, without `JSONEncoder` on the token endpoint's hot path. The rare
    /// nested claims (`cnf`, `permissions`, `act`) still go through `JSONEncoder`.
    func jsonBytes() throws -> [UInt8] {
        var writer = JSONObjectWriter()
        writer.field("iss", iss)
        writer.field("sub", sub)
        if aud.values.count == 1 { writer.field("aud", aud.values[0]) } else { writer.field("aud", aud.values) }
        writer.field("exp", exp)
        writer.field("iat", iat)
        writer.field("jti", jti)
        writer.field("client_id", clientID)
        writer.field("scope", scope)
        writer.field("auth_time", authTime)
        writer.field("acr", acr)
        if let cnf { writer.field("cnf", json: Array(try Self.nestedEncoder.encode(cnf))) }
        if let permissions { writer.field("permissions", json: Array(try Self.nestedEncoder.encode(permissions))) }
        if let act { writer.field("act", json: Array(try Self.nestedEncoder.encode(act))) }
        return writer.finish()
    }

    private static let nestedEncoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes]
        return encoder
    }()
}

/// RFC 7800 `cnf` of a sender-constrained token: the DPoP key thumbprint (RFC 9449 §6) or the
/// client certificate's SHA-256 thumbprint (RFC 8705 §3.1).
struct Confirmation: Codable, Sendable, Equatable {
    var jkt: String?
    var x5tS256: String?

    enum CodingKeys: String, CodingKey {
        case jkt
        case x5tS256 = "x5t#S256"
    }

    static func dpop(_ jkt: String?) -> Confirmation? { jkt.map { Confirmation(jkt: $0) } }
}

/// Issues access tokens in the client's format: an RFC 9068 JWT (`typ: at+jwt`, signed with the
/// client's `access_token_signing_alg`, ES256 unless it registered RS256 or EdDSA) or an opaque
/// `neo_at_` string whose SHA-256 is stored with its claims.
struct AccessTokenIssuer: Sendable {
    static let jwtType = "at+jwt"
    static let opaquePrefix = "neo_at_"

    let issuer: String
    let keys: KeyRing
    let tokens: any TokenStore
    let time: any TimeSource

    struct Issued: Sendable {
        var token: String
        var expiresIn: Int
    }

    /// For user-bound grants: the token is recorded with its refresh family and the credential it
    /// came from, so that code replay or refresh-token reuse revokes it. A JWT is recorded under
    /// `CredentialHash.hex("jti:" + jti)`, the key introspection checks revocation by.
    struct Record: Sendable {
        var familyID: String?
        var parentHash: String
        var sessionID: String? = nil
    }

    static func jwtRecordHash(jti: String) -> String { CredentialHash.hex("jti:" + jti) }

    func issue(
        client: RegisteredClient, subject: String, scopes: [String], audiences: [String], authTime: Int64? = nil, acr: String? = nil,
        record: Record? = nil, confirmation: Confirmation? = nil, permissions: [UMAPermission]? = nil, format: AccessTokenFormat? = nil,
        act: JSONValue? = nil, notAfter: Int64? = nil
    ) async throws -> Issued {
        let now = time.epochSeconds
        // A derived token (token exchange) never outlives the token it came from.
        let lifetime = notAfter.map { max(0, min(client.accessTokenLifetime, Int($0 - now))) } ?? client.accessTokenLifetime
        let jti = RandomToken.make(bytes: 16)
        let scope = ScopeSet.format(scopes)
        switch format ?? client.accessTokenFormat {
        case .jwt:
            let claims = AccessTokenClaims(
                iss: issuer, sub: subject, aud: Audience(audiences), exp: now + Int64(lifetime), iat: now, jti: jti,
                clientID: client.id, scope: scope, authTime: authTime, acr: acr, cnf: confirmation, permissions: permissions, act: act
            )
            try await keys.refreshIfStale()
            let token = try keys.signingKey(client.accessTokenAlgorithm).sign(payload: try claims.jsonBytes(), type: Self.jwtType)
            // RPTs are recorded too, so that introspection can answer for them and revocation applies.
            if record != nil || permissions != nil {
                try await tokens.insert(
                    IssuedToken(
                        hash: Self.jwtRecordHash(jti: jti), kind: .access, clientID: client.id, subject: subject, scope: scope ?? "",
                        audience: audiences.joined(separator: " "), issuedAt: now, expiresAt: now + Int64(lifetime),
                        familyID: record?.familyID, parentHash: record?.parentHash, claimsJSON: try Self.extraClaims(jti: nil, authTime: authTime, acr: acr, confirmation: confirmation, permissions: permissions, act: act),
                        sessionID: record?.sessionID
                    )
                )
            }
            return Issued(token: token, expiresIn: lifetime)
        case .opaque:
            let token = Self.opaquePrefix + RandomToken.make(bytes: 32)
            let claimsJSON = try Self.extraClaims(jti: jti, authTime: authTime, acr: acr, confirmation: confirmation, permissions: permissions, act: act)
            try await tokens.insert(
                IssuedToken(
                    hash: CredentialHash.hex(token), kind: .access, clientID: client.id, subject: subject, scope: scope ?? "",
                    audience: audiences.joined(separator: " "), issuedAt: now, expiresAt: now + Int64(lifetime),
                    familyID: record?.familyID, parentHash: record?.parentHash, claimsJSON: claimsJSON, sessionID: record?.sessionID
                )
            )
            return Issued(token: token, expiresIn: lifetime)
        }
    }

    /// The claims beyond the table's columns, as introspection reads them (`claims_json`): one
    /// JSON object, keys sorted, nil when there is nothing to add. Written by `JSONObjectWriter`:
    /// `JSONSerialization` of a dictionary was ~7 % of an opaque token's issuance profile.
    static func extraClaims(
        jti: String?, authTime: Int64?, acr: String?, confirmation: Confirmation?, permissions: [UMAPermission]?, act: JSONValue? = nil
    ) throws -> String? {
        let cnf = confirmation.flatMap { $0.jkt == nil && $0.x5tS256 == nil ? nil : $0 }
        guard jti != nil || authTime != nil || acr != nil || cnf != nil || permissions != nil || act != nil else { return nil }
        var writer = JSONObjectWriter(capacity: 128)
        writer.field("acr", acr)
        if let act { writer.field("act", json: Array(try sortedEncoder.encode(act))) }
        writer.field("auth_time", authTime)
        if let cnf {
            var object = JSONObjectWriter(capacity: 64)
            object.field("jkt", cnf.jkt)
            object.field("x5t#S256", cnf.x5tS256)
            writer.field("cnf", json: object.finish())
        }
        writer.field("jti", jti)
        if let permissions {
            var array: [UInt8] = [UInt8(ascii: "[")]
            for (index, permission) in permissions.enumerated() {
                if index > 0 { array.append(UInt8(ascii: ",")) }
                var object = JSONObjectWriter(capacity: 96)
                object.field("exp", permission.exp)
                object.field("resource_id", permission.resourceID)
                object.field("resource_scopes", permission.resourceScopes)
                array.append(contentsOf: object.finish())
            }
            array.append(UInt8(ascii: "]"))
            writer.field("permissions", json: array)
        }
        return String(decoding: writer.finish(), as: UTF8.self)
    }

    private static let sortedEncoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()
}
