import Crypto
public import WireModels

/// JWK thumbprints (RFC 7638), used as `kid` and for DPoP `jkt` (RFC 9449 §6.1).
public enum JWKThumbprint {
    /// The base64url SHA-256 thumbprint: a hash of the JSON object holding only the required
    /// members of the key type, in lexicographic order, with no whitespace (RFC 7638 §3).
    public static func sha256(_ jwk: PublicJWK) throws -> String {
        Base64URL.encode(SHA256.hash(data: Array(try canonicalJSON(jwk).utf8)))
    }

    static func canonicalJSON(_ jwk: PublicJWK) throws -> String {
        func member(_ name: String, _ value: String?) throws -> String {
            guard let value, !value.isEmpty,
                value.unicodeScalars.allSatisfy({ $0.properties.isASCIIHexDigit || ($0.value < 0x80 && ($0.properties.isAlphabetic || $0 == "-" || $0 == "_" || ("0"..."9").contains($0))) })
            else { throw JOSEError.keyUnusable }
            return "\"\(name)\":\"\(value)\""
        }
        // Members are base64url or fixed identifiers, so no JSON escaping is ever needed; values
        // that would need it are refused rather than hashed ambiguously.
        let members: [String]
        switch jwk.kty {
        case "EC": members = [try member("crv", jwk.crv), try member("kty", "EC"), try member("x", jwk.x), try member("y", jwk.y)]
        case "RSA": members = [try member("e", jwk.e), try member("kty", "RSA"), try member("n", jwk.n)]
        case "OKP": members = [try member("crv", jwk.crv), try member("kty", "OKP"), try member("x", jwk.x)]
        default: throw JOSEError.unsupportedAlgorithm
        }
        return "{" + members.joined(separator: ",") + "}"
    }
}
