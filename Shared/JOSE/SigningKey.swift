public import Crypto
import _CryptoExtras
public import Foundation
public import JWTKit
public import WireModels

/// The JWS algorithms NeoSec signs with. `none` and HMAC are absent on purpose.
public enum SigningAlgorithm: String, Sendable, CaseIterable, Codable {
    case es256 = "ES256"
    case rs256 = "RS256"
    case edDSA = "EdDSA"
}

/// A private signing key with its pinned algorithm and its RFC 7638 thumbprint as `kid`.
///
/// The private material never leaves this type except through `privateKeyBytes`, which the key
/// ring seals before storage. `description` prints the kid only.
public struct SigningKey: Sendable, CustomStringConvertible {
    public let kid: String
    public let algorithm: SigningAlgorithm
    public let publicJWK: PublicJWK
    /// A key collection holding this key alone, so that jwt-kit can never fall back to another.
    let collection: JWTKeyCollection
    private let material: Material

    enum Material: Sendable {
        case p256(P256.Signing.PrivateKey)
        case rsa(_RSA.Signing.PrivateKey)
        case ed25519(Curve25519.Signing.PrivateKey)
    }

    public var description: String { "SigningKey(\(algorithm.rawValue), kid: \(kid))" }

    /// Generates a fresh key. RSA keys are 2048 bits (RFC 7518 §3.3 minimum; RS256 is the
    /// OpenID Connect default).
    public static func generate(_ algorithm: SigningAlgorithm) async throws -> SigningKey {
        switch algorithm {
        case .es256: try await SigningKey(material: .p256(P256.Signing.PrivateKey()))
        case .rs256: try await SigningKey(material: .rsa(_RSA.Signing.PrivateKey(keySize: .bits2048)))
        case .edDSA: try await SigningKey(material: .ed25519(Curve25519.Signing.PrivateKey()))
        }
    }

    /// Reloads a key from `privateKeyBytes`.
    public init(algorithm: SigningAlgorithm, privateKeyBytes: [UInt8]) async throws {
        do {
            switch algorithm {
            case .es256: try await self.init(material: .p256(P256.Signing.PrivateKey(rawRepresentation: privateKeyBytes)))
            case .rs256: try await self.init(material: .rsa(_RSA.Signing.PrivateKey(derRepresentation: privateKeyBytes)))
            case .edDSA: try await self.init(material: .ed25519(Curve25519.Signing.PrivateKey(rawRepresentation: privateKeyBytes)))
            }
        } catch let error as JOSEError {
            throw error
        } catch {
            throw JOSEError.keyUnusable
        }
    }

    private init(material: Material) async throws {
        self.material = material
        let collection = JWTKeyCollection()
        let jwk: PublicJWK
        switch material {
        case .p256(let key):
            let point = Array(key.publicKey.x963Representation)  // 0x04 || X || Y
            guard point.count == 65 else { throw JOSEError.keyUnusable }
            jwk = PublicJWK(kty: "EC", crv: "P-256", x: Base64URL.encode(point[1..<33]), y: Base64URL.encode(point[33..<65]))
            self.algorithm = .es256
        case .rsa(let key):
            let primitives = try key.publicKey.getKeyPrimitives()
            jwk = PublicJWK(kty: "RSA", n: Base64URL.encode(Self.stripLeadingZeros(primitives.modulus)), e: Base64URL.encode(Self.stripLeadingZeros(primitives.publicExponent)))
            self.algorithm = .rs256
        case .ed25519(let key):
            jwk = PublicJWK(kty: "OKP", crv: "Ed25519", x: Base64URL.encode(key.publicKey.rawRepresentation))
            self.algorithm = .edDSA
        }
        let kid = try JWKThumbprint.sha256(jwk)
        self.kid = kid
        var published = jwk
        published.kid = kid
        published.alg = algorithm.rawValue
        published.use = "sig"
        self.publicJWK = published
        switch material {
        case .p256(let key): await collection.add(ecdsa: try ES256PrivateKey(backing: key), kid: JWKIdentifier(string: kid))
        case .rsa(let key): await collection.add(rsa: try Insecure.RSA.PrivateKey(backing: key), digestAlgorithm: .sha256, kid: JWKIdentifier(string: kid))
        case .ed25519(let key): await collection.add(eddsa: EdDSA.PrivateKey(backing: key), kid: JWKIdentifier(string: kid))
        }
        self.collection = collection
    }

    /// The private key in the form `init(algorithm:privateKeyBytes:)` reads: raw scalar for P-256
    /// and Ed25519, PKCS#1 DER for RSA. Seal it before it goes anywhere.
    public var privateKeyBytes: [UInt8] {
        switch material {
        case .p256(let key): Array(key.rawRepresentation)
        case .rsa(let key): Array(key.derRepresentation)
        case .ed25519(let key): Array(key.rawRepresentation)
        }
    }

    /// The public half, for verification.
    public var verificationKey: VerificationKey {
        VerificationKey(kid: kid, algorithm: algorithm, jwk: publicJWK, collection: collection)
    }

    /// Signs `claims` as a compact JWS (RFC 7515 §7.1) with `alg`, `kid` and `typ` in the
    /// protected header.
    ///
    /// Signed here with swift-crypto directly rather than through jwt-kit's `JWTKeyCollection`:
    /// the collection is an actor (one executor hop per token) and re-encodes the header each
    /// time; on the token endpoint's hot path that was a measurable share of the work. The
    /// output is the same compact serialization (ES256 signatures as the 64-byte `r || s` of
    /// RFC 7518 §3.4), verified by jwt-kit and by third-party libraries in the tests.
    public func sign(_ claims: some Encodable, type: String) async throws -> String {
        try sign(payload: Array(try Self.encoder.encode(claims)), type: type)
    }

    /// Signs `payload`, the claims already encoded as a JSON object.
    public func sign(payload: [UInt8], type: String) throws -> String {
        var input = Array(protectedHeader(type: type).utf8)
        input.append(UInt8(ascii: "."))
        input.append(contentsOf: Base64URL.encode(payload).utf8)
        let signature: [UInt8]
        switch material {
        case .p256(let key): signature = Array(try key.signature(for: input).rawRepresentation)
        case .rsa(let key): signature = Array(try key.signature(for: input, padding: .insecurePKCS1v1_5).rawRepresentation)
        case .ed25519(let key): signature = Array(try key.signature(for: input))
        }
        input.append(UInt8(ascii: "."))
        input.append(contentsOf: Base64URL.encode(signature).utf8)
        return String(decoding: input, as: UTF8.self)
    }

    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes]
        return encoder
    }()

    /// base64url of `{"alg":…,"kid":…,"typ":…}`. `kid` is a base64url thumbprint and `type` one
    /// of our own constants, so neither needs JSON escaping; anything else is refused.
    func protectedHeader(type: String) -> String {
        precondition(type.utf8.allSatisfy { $0 > 0x20 && $0 < 0x7F && $0 != 0x22 && $0 != 0x5C }, "JWS typ must be a plain token")
        return Base64URL.encode(Array(#"{"alg":"\#(algorithm.rawValue)","kid":"\#(kid)","typ":"\#(type)"}"#.utf8))
    }

    static func stripLeadingZeros(_ data: Data) -> [UInt8] {
        let bytes = Array(data)
        let trimmed = bytes.drop(while: { $0 == 0 })
        return trimmed.isEmpty ? [0] : Array(trimmed)
    }
}

/// A public key pinned to one algorithm, able to verify only its own signatures.
public struct VerificationKey: Sendable {
    public let kid: String
    public let algorithm: SigningAlgorithm
    public let jwk: PublicJWK
    let collection: JWTKeyCollection

    /// Builds a verification key from a published JWK. The JWK must name its `kid` and an
    /// `alg` we support, and its key type must match that algorithm.
    public init(jwk: PublicJWK) async throws {
        guard let kid = jwk.kid, !kid.isEmpty else { throw JOSEError.missingKeyID }
        guard let alg = jwk.alg, let algorithm = SigningAlgorithm(rawValue: alg) else { throw JOSEError.unsupportedAlgorithm }
        let collection = JWTKeyCollection()
        do {
            switch algorithm {
            case .es256:
                guard jwk.kty == "EC", jwk.crv == "P-256", let x = jwk.x, let y = jwk.y else { throw JOSEError.algorithmMismatch }
                await collection.add(ecdsa: try ES256PublicKey(parameters: (x: x, y: y)), kid: JWKIdentifier(string: kid))
            case .rs256:
                guard jwk.kty == "RSA", let n = jwk.n, let e = jwk.e else { throw JOSEError.algorithmMismatch }
                let key = try Insecure.RSA.PublicKey(modulus: n, exponent: e)
                guard let modulus = Base64URL.decode(n), SigningKey.stripLeadingZeros(modulus).count >= 256 else { throw JOSEError.keyUnusable }
                await collection.add(rsa: key, digestAlgorithm: .sha256, kid: JWKIdentifier(string: kid))
            case .edDSA:
                guard jwk.kty == "OKP", jwk.crv == "Ed25519", let x = jwk.x else { throw JOSEError.algorithmMismatch }
                await collection.add(eddsa: try EdDSA.PublicKey(x: x, curve: .ed25519), kid: JWKIdentifier(string: kid))
            }
        } catch let error as JOSEError {
            throw error
        } catch {
            throw JOSEError.keyUnusable
        }
        self.kid = kid
        self.algorithm = algorithm
        self.jwk = jwk
        self.collection = collection
    }

    init(kid: String, algorithm: SigningAlgorithm, jwk: PublicJWK, collection: JWTKeyCollection) {
        self.kid = kid
        self.algorithm = algorithm
        self.jwk = jwk
        self.collection = collection
    }
}
