import Foundation
import ServiceKit
import Storage
import WireModels

/// The OpenID Connect claims an account carries (Core §5.1), stored as a JSON object.
///
/// Administrators set them; protocol claims (`sub`, `iss`, `aud`, `auth_time`, `acr` …) are
/// refused, since the Token Service alone decides those.
enum AccountClaims {
    static let reserved: Set<String> = [
        "iss", "sub", "aud", "exp", "nbf", "iat", "jti", "auth_time", "nonce", "acr", "amr", "azp", "sid", "at_hash", "c_hash", "s_hash",
        "cnf", "scope", "client_id", "act", "may_act", "permissions", "events", "_claim_names", "_claim_sources",
    ]
    static let maximumCount = 64
    static let maximumNameLength = 128
    static let maximumValueLength = 2048

    static func validate(_ claims: [String: ClaimValue]) throws(OAuthError) {
        guard claims.count <= maximumCount else { throw OAuthError.invalidRequest("too many claims") }
        for (name, value) in claims {
            guard !name.isEmpty, name.utf8.count <= maximumNameLength, name.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F && $0 != 0x22 && $0 != 0x5C })
            else { throw OAuthError.invalidRequest("claim names must be 1 to \(maximumNameLength) printable ASCII characters") }
            guard !reserved.contains(name) else {
                throw OAuthError.invalidRequest("claims may not set protocol claims such as sub, iss or auth_time")
            }
            switch value {
            case .string(let text):
                guard text.utf8.count <= maximumValueLength else { throw OAuthError.invalidRequest("claim value too long") }
            case .object(let members):
                guard members.count <= 16, members.allSatisfy({ $0.key.utf8.count <= maximumNameLength && $0.value.utf8.count <= maximumValueLength })
                else { throw OAuthError.invalidRequest("claim value too long") }
            case .bool, .number:
                break
            }
        }
    }

    static func decode(_ json: String) throws -> [String: ClaimValue] {
        do {
            return try JSONDecoder().decode([String: ClaimValue].self, from: Data(json.utf8))
        } catch {
            throw StorageError.corrupt("claims")
        }
    }

    static func encode(_ claims: [String: ClaimValue]) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(claims), as: UTF8.self)
    }

    /// What the userinfo answer releases: the stored claims, plus `preferred_username` (Core
    /// §5.1) from the username unless the administrator set one.
    static func released(_ account: StoredAccount) throws -> [String: ClaimValue] {
        var claims = try decode(account.claimsJSON)
        if claims["preferred_username"] == nil { claims["preferred_username"] = .string(account.username) }
        return claims
    }
}
