import Crypto
import _CryptoExtras
public import Foundation
public import WireModels

/// RFC 9449 §4.3 verification of a DPoP proof: the checks every receiver (token endpoint,
/// resource server) makes, in order, each failing closed. Replay of `jti` is the caller's: it
/// owns the cache and its scope (see `DPoPReplayCache`).
///
/// The signature is checked here with swift-crypto directly: a proof carries its own key in the
/// header (no `kid`, no key set), so the key-set machinery of `JWS.verify` does not apply.
public enum DPoPProof {
    public static let type = "dpop+jwt"
    /// Asymmetric algorithms only (§4.2: `none` and MAC algorithms MUST NOT be used).
    public static let algorithms = ["ES256", "RS256", "PS256", "EdDSA"]
    public static let maximumLength = 8 * 1024
    /// How far back `iat` may lie, and how far ahead (clock skew), in seconds.
    public static let maximumAge: Int64 = 60
    public static let maximumSkew: Int64 = 10
    /// Members of a private or symmetric JWK: a proof carrying any is refused (§4.2).
    static let privateMembers: Set<String> = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"]

    /// A proof that passed every check but replay.
    public struct Verified: Sendable, Equatable {
        /// RFC 7638 SHA-256 thumbprint of the proof's key: `cnf.jkt` of bound tokens.
        public var thumbprint: String
        public var jti: String
        public var iat: Int64
        public var nonce: String?
    }

    public enum Failure: Error, Sendable, Equatable {
        case malformed
        case wrongType
        case algorithmNotAllowed
        case badKey
        case badSignature
        case wrongMethod
        case wrongURI
        case stale
        case missingAccessTokenHash
        case wrongAccessTokenHash
        /// The nonce is missing or not the current one (answer `use_dpop_nonce`, §8).
        case nonceRequired
    }

    /// Verifies `proof` for a request `method` to `uri` (compared without query and fragment,
    /// after RFC 3986 §6.2.2 syntax normalization), at `now`. With `accessToken`, `ath` must be
    /// its hash (resource servers, §7); without, `ath` is not required (token endpoint).
    /// `acceptNonce` decides whether the proof's `nonce` (nil when absent) is acceptable.
    public static func verify(
        _ proof: String, method: String, uri: String, accessToken: String? = nil, now: Int64,
        acceptNonce: (String?) -> Bool = { _ in true }
    ) throws(Failure) -> Verified {
        guard proof.utf8.count <= maximumLength else { throw .malformed }
        let parts = proof.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, let headerBytes = Base64URL.decode(parts[0]), let payloadBytes = Base64URL.decode(parts[1]),
            let signature = Base64URL.decode(parts[2]),
            let header = (try? JSONSerialization.jsonObject(with: Data(headerBytes))) as? [String: Any],
            let claims = (try? JSONSerialization.jsonObject(with: Data(payloadBytes))) as? [String: Any]
        else { throw .malformed }

        guard let typ = header["typ"] as? String, typ.lowercased() == type else { throw .wrongType }
        guard let alg = header["alg"] as? String, algorithms.contains(alg) else { throw .algorithmNotAllowed }
        guard header["crit"] == nil else { throw .malformed }
        guard let jwkObject = header["jwk"] as? [String: Any], jwkObject.keys.allSatisfy({ !privateMembers.contains($0) }) else { throw .badKey }
        func member(_ name: String) -> String? { jwkObject[name] as? String }
        guard let kty = member("kty") else { throw .badKey }
        let jwk = PublicJWK(kty: kty, crv: member("crv"), x: member("x"), y: member("y"), n: member("n"), e: member("e"))
        let signingInput = Array(proof.utf8.prefix(parts[0].utf8.count + 1 + parts[1].utf8.count))
        guard try verifySignature(signature, of: signingInput, alg: alg, jwk: jwk) else { throw .badSignature }
        guard let thumbprint = try? JWKThumbprint.sha256(jwk) else { throw .badKey }

        guard let jti = claims["jti"] as? String, !jti.isEmpty, jti.utf8.count <= 256 else { throw .malformed }
        guard let htm = claims["htm"] as? String, htm == method else { throw .wrongMethod }
        guard let htu = claims["htu"] as? String, let presented = normalizedURI(htu), let expected = normalizedURI(uri), presented == expected else {
            throw .wrongURI
        }
        guard let iatNumber = claims["iat"] as? NSNumber, !(claims["iat"] is Bool), iatNumber.doubleValue.isFinite,
            iatNumber.doubleValue == iatNumber.doubleValue.rounded(), abs(iatNumber.doubleValue) < 1e15
        else { throw .malformed }
        let iat = Int64(iatNumber.doubleValue)
        guard iat >= now - maximumAge, iat <= now + maximumSkew else { throw .stale }
        if let accessToken {
            guard let ath = claims["ath"] as? String else { throw .missingAccessTokenHash }
            let expectedHash = Base64URL.encode(SHA256.hash(data: Array(accessToken.utf8)))
            guard ConstantTime.equals(Array(ath.utf8), Array(expectedHash.utf8)) else { throw .wrongAccessTokenHash }
        }
        let nonce = claims["nonce"] as? String
        guard acceptNonce(nonce) else { throw .nonceRequired }
        return Verified(thumbprint: thumbprint, jti: jti, iat: iat, nonce: nonce)
    }

    static func verifySignature(_ signature: Data, of input: [UInt8], alg: String, jwk: PublicJWK) throws(Failure) -> Bool {
        do {
            switch alg {
            case "ES256":
                guard jwk.kty == "EC", jwk.crv == "P-256", let x = decoded(jwk.x), let y = decoded(jwk.y),
                    x.count == 32, y.count == 32
                else { throw Failure.badKey }
                let key = try P256.Signing.PublicKey(x963Representation: [0x04] + x + y)
                guard signature.count == 64 else { return false }
                return key.isValidSignature(try P256.Signing.ECDSASignature(rawRepresentation: signature), for: input)
            case "RS256", "PS256":
                guard jwk.kty == "RSA", let n = decoded(jwk.n), let e = decoded(jwk.e) else { throw Failure.badKey }
                let key = try _RSA.Signing.PublicKey(n: n, e: e)
                guard key.keySizeInBits >= 2048 else { throw Failure.badKey }
                let padding: _RSA.Signing.Padding = alg == "PS256" ? .PSS : .insecurePKCS1v1_5
                return key.isValidSignature(_RSA.Signing.RSASignature(rawRepresentation: signature), for: input, padding: padding)
            case "EdDSA":
                guard jwk.kty == "OKP", jwk.crv == "Ed25519", let x = decoded(jwk.x), x.count == 32 else { throw Failure.badKey }
                return try Curve25519.Signing.PublicKey(rawRepresentation: x).isValidSignature(signature, for: input)
            default:
                throw Failure.algorithmNotAllowed
            }
        } catch let failure as Failure {
            throw failure
        } catch {
            throw .badKey
        }
    }

    static func decoded(_ value: String?) -> Data? { value.flatMap { Base64URL.decode($0) } }

    /// RFC 9449 §4.3 step 9: the URI without query and fragment, scheme and host lowercased,
    /// the default port dropped, an empty path as `/`. Nil for anything but absolute http(s).
    public static func normalizedURI(_ value: String) -> String? {
        guard value.utf8.count <= 2048, let components = URLComponents(string: value), let scheme = components.scheme?.lowercased(),
            scheme == "https" || scheme == "http", let host = components.host?.lowercased(), !host.isEmpty, components.user == nil,
            components.password == nil
        else { return nil }
        var result = scheme + "://" + host
        if let port = components.port, !(scheme == "https" && port == 443), !(scheme == "http" && port == 80) { result += ":\(port)" }
        let path = components.percentEncodedPath
        result += path.isEmpty ? "/" : path
        return result
    }

    /// RFC 9449 §6.1 `ath` / the value a client puts in a proof for `accessToken`.
    public static func accessTokenHash(_ accessToken: String) -> String {
        Base64URL.encode(SHA256.hash(data: Array(accessToken.utf8)))
    }
}
