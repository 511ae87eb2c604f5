/// Any JSON value, for claims NeoSec passes through without interpreting them here (`cnf` of
/// sender-constrained tokens, `permissions` of UMA RPTs).
public enum JSONValue: Codable, Sendable, Equatable {
    case null
    case bool(Bool)
    case integer(Int64)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Int64.self) {
            self = .integer(value)
        } else if let value = try? container.decode(Double.self) {
            self = .number(value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode([JSONValue].self) {
            self = .array(value)
        } else {
            self = .object(try container.decode([String: JSONValue].self))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .null: try container.encodeNil()
        case .bool(let value): try container.encode(value)
        case .integer(let value): try container.encode(value)
        case .number(let value): try container.encode(value)
        case .string(let value): try container.encode(value)
        case .array(let value): try container.encode(value)
        case .object(let value): try container.encode(value)
        }
    }
}

/// The answer of `POST /oauth2/introspect` (RFC 7662 §2.2). An inactive token is exactly
/// `{"active":false}`: nothing else is said about it. The token itself is never part of it.
public struct IntrospectionResponse: Codable, Sendable, Equatable {
    public var active: Bool
    public var scope: String?
    public var clientID: String?
    /// `Bearer` for access tokens (`DPoP` once bound with `cnf.jkt`); absent for refresh tokens.
    public var tokenType: String?
    public var exp: Int64?
    public var iat: Int64?
    public var sub: String?
    /// Written as a string when there is one audience, as an array otherwise (RFC 7519 §4.1.3).
    public var aud: [String]?
    public var iss: String?
    public var jti: String?
    public var authTime: Int64?
    public var acr: String?
    /// RFC 7800 confirmation (DPoP `jkt`, mTLS `x5t#S256`), passed through from the token.
    public var cnf: JSONValue?
    /// UMA 2.0 RPT permissions, passed through from the token.
    public var permissions: JSONValue?
    /// RFC 8693 §4.1: the actor of a delegated (exchanged) token, prior actors nested inside.
    public var act: JSONValue?

    public init(active: Bool) { self.active = active }

    public static let inactive = IntrospectionResponse(active: false)

    enum CodingKeys: String, CodingKey {
        case active, scope, exp, iat, sub, aud, iss, jti, acr, cnf, permissions, act
        case clientID = "client_id"
        case tokenType = "token_type"
        case authTime = "auth_time"
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        active = try container.decode(Bool.self, forKey: .active)
        scope = try container.decodeIfPresent(String.self, forKey: .scope)
        clientID = try container.decodeIfPresent(String.self, forKey: .clientID)
        tokenType = try container.decodeIfPresent(String.self, forKey: .tokenType)
        exp = try container.decodeIfPresent(Int64.self, forKey: .exp)
        iat = try container.decodeIfPresent(Int64.self, forKey: .iat)
        sub = try container.decodeIfPresent(String.self, forKey: .sub)
        if let single = try? container.decodeIfPresent(String.self, forKey: .aud) {
            aud = [single]
        } else {
            aud = try container.decodeIfPresent([String].self, forKey: .aud)
        }
        iss = try container.decodeIfPresent(String.self, forKey: .iss)
        jti = try container.decodeIfPresent(String.self, forKey: .jti)
        authTime = try container.decodeIfPresent(Int64.self, forKey: .authTime)
        acr = try container.decodeIfPresent(String.self, forKey: .acr)
        cnf = try container.decodeIfPresent(JSONValue.self, forKey: .cnf)
        permissions = try container.decodeIfPresent(JSONValue.self, forKey: .permissions)
        act = try container.decodeIfPresent(JSONValue.self, forKey: .act)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(active, forKey: .active)
        try container.encodeIfPresent(scope, forKey: .scope)
        try container.encodeIfPresent(clientID, forKey: .clientID)
        try container.encodeIfPresent(tokenType, forKey: .tokenType)
        try container.encodeIfPresent(exp, forKey: .exp)
        try container.encodeIfPresent(iat, forKey: .iat)
        try container.encodeIfPresent(sub, forKey: .sub)
        if let aud {
            if aud.count == 1 { try container.encode(aud[0], forKey: .aud) } else { try container.encode(aud, forKey: .aud) }
        }
        try container.encodeIfPresent(iss, forKey: .iss)
        try container.encodeIfPresent(jti, forKey: .jti)
        try container.encodeIfPresent(authTime, forKey: .authTime)
        try container.encodeIfPresent(acr, forKey: .acr)
        try container.encodeIfPresent(cnf, forKey: .cnf)
        try container.encodeIfPresent(permissions, forKey: .permissions)
        try container.encodeIfPresent(act, forKey: .act)
    }
}

/// Body of `POST /internal/phantom` on the Introspection Service (callers: `neosec-resource`,
/// `neosec-token`): exchange an opaque access token (`neo_at_…`) for a short-lived signed JWT
/// carrying the same claims, audience-bound to `audience` (the "phantom token" pattern: by
/// reference outside, by value inside).
public struct PhantomTokenRequest: Codable, Sendable, Equatable {
    public var token: String
    public var audience: String

    public init(token: String, audience: String) {
        self.token = token
        self.audience = audience
    }
}

/// Answer of `POST /internal/phantom`: an RFC 9068-shaped JWT (`typ: at+jwt`) signed with the
/// Introspection Service's key (`/.well-known/introspection-jwks.json`), valid for `expiresIn`
/// seconds (at most 60, never beyond the opaque token's own expiry).
public struct PhantomTokenResponse: Codable, Sendable, Equatable {
    public var token: String
    public var expiresIn: Int

    public init(token: String, expiresIn: Int) {
        self.token = token
        self.expiresIn = expiresIn
    }

    enum CodingKeys: String, CodingKey {
        case token
        case expiresIn = "expires_in"
    }
}
