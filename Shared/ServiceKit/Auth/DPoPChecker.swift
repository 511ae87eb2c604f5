import Crypto
public import Foundation
public import HTTPTypes
public import Hummingbird
public import JOSE
import Synchronization

/// Server-provided DPoP nonces (RFC 9449 §8, §9), stateless: a nonce is the time slot it was
/// made in plus an HMAC of it, so every instance sharing the master key accepts the others'
/// nonces without shared state. A nonce is accepted in its own 60 s slot and the next one.
public struct DPoPNonces: Sendable {
    public static let slot: Int64 = 60
    let key: SymmetricKey

    public init(masterKey: Secret) {
        key = SymmetricKey(data: HMAC<SHA256>.authenticationCode(for: Array("neosec dpop nonce v1".utf8), using: SymmetricKey(data: Array(masterKey.value.utf8))))
    }

    public func current(now: Int64) -> String { make(slot: now / Self.slot) }

    public func isValid(_ nonce: String?, now: Int64) -> Bool {
        guard let nonce, nonce.utf8.count <= 64 else { return false }
        let slot = now / Self.slot
        let candidate = Array(nonce.utf8)
        return ConstantTime.equals(candidate, Array(make(slot: slot).utf8)) || ConstantTime.equals(candidate, Array(make(slot: slot - 1).utf8))
    }

    func make(slot: Int64) -> String {
        var bytes = withUnsafeBytes(of: slot.bigEndian) { Array($0) }
        bytes += Array(HMAC<SHA256>.authenticationCode(for: bytes, using: key)).prefix(16)
        return Base64URL.encode(bytes)
    }
}

/// The `jti`s of DPoP proofs seen recently, in memory and bounded (RFC 9449 §11.1). A proof is
/// only acceptable inside its `iat` window, so an entry is kept until that window closes; when
/// full, expired entries go first and then the cache refuses new proofs rather than forgetting
/// live ones (fail closed).
public final class DPoPReplayCache: Sendable {
    let capacity: Int
    private let seen = Mutex<[String: Int64]>([:])

    public init(capacity: Int = 200_000) { self.capacity = capacity }

    /// True the first time `id` is seen before `expiresAt`.
    public func firstUse(_ id: String, expiresAt: Int64, now: Int64) -> Bool {
        seen.withLock { seen in
            if let until = seen[id], until > now { return false }
            if seen.count >= capacity {
                seen = seen.filter { $0.value > now }
                if seen.count >= capacity { return false }
            }
            seen[id] = expiresAt
            return true
        }
    }
}

/// RFC 9449 checks of the `DPoP` header of a request, for the token endpoint and for resource
/// servers: one proof, verified (`DPoPProof`), fresh (`jti` single use), with the server's nonce
/// when nonces are required. Errors are the protocol's: at the token endpoint 400
/// `invalid_dpop_proof` / `use_dpop_nonce` (§5, §8); at a resource server 401 with a DPoP
/// challenge (§7.1, §9).
public struct DPoPChecker: Sendable {
    public enum Role: Sendable { case tokenEndpoint, resourceServer(realm: String) }
    public static let header = HTTPField.Name("DPoP")!
    public static let algorithmList = DPoPProof.algorithms.joined(separator: " ")

    public typealias ReplayCheck = @Sendable (_ key: String, _ expiresAt: Int64) async throws -> Bool
    let role: Role
    let nonces: DPoPNonces
    let requireNonce: Bool
    let firstUse: ReplayCheck
    let time: any TimeSource

    public init(role: Role, nonces: DPoPNonces, requireNonce: Bool, time: any TimeSource, firstUse: @escaping ReplayCheck) {
        self.role = role
        self.nonces = nonces
        self.requireNonce = requireNonce
        self.time = time
        self.firstUse = firstUse
    }

    /// Whether the request carries a DPoP header at all.
    public static func hasProof(_ request: Request) -> Bool { request.headers.contains(header) }

    /// Verifies the request's proof for `uri` (its public URL) and returns the key thumbprint.
    /// With `accessToken`, the proof must hash it (`ath`).
    public func check(_ request: Request, uri: String, accessToken: String? = nil) async throws -> String {
        let proofs = request.headers[values: Self.header]
        guard proofs.count == 1, let proof = proofs.first else { throw error(.invalidDPoPProof, "exactly one DPoP header is required") }
        let now = time.epochSeconds
        let verified: DPoPProof.Verified
        do {
            verified = try DPoPProof.verify(
                proof, method: request.method.rawValue, uri: uri, accessToken: accessToken, now: now,
                acceptNonce: { [nonces, requireNonce] nonce in !requireNonce || nonces.isValid(nonce, now: now) }
            )
        } catch .nonceRequired {
            var failure = error(.useDPoPNonce, "the DPoP proof must carry the nonce in DPoP-Nonce")
            failure.dpopNonce = nonces.current(now: now)
            throw failure
        } catch {
            throw self.error(.invalidDPoPProof, Self.describe(error))
        }
        guard try await firstUse("\(verified.thumbprint):\(verified.jti)", verified.iat + DPoPProof.maximumAge + 1) else {
            throw error(.invalidDPoPProof, "DPoP proof replayed")
        }
        return verified.thumbprint
    }

    /// The nonce to hand out on success, when nonces are required (§8.2: a server may supply a
    /// new one at any time).
    public func freshNonce() -> String? { requireNonce ? nonces.current(now: time.epochSeconds) : nil }

    func error(_ code: OAuthError.Code, _ description: String) -> OAuthError {
        switch role {
        case .tokenEndpoint:
            return OAuthError(code, status: .badRequest, description: description)
        case .resourceServer(let realm):
            return OAuthError(code, status: .unauthorized, description: description, challenge: .init(scheme: "DPoP", realm: realm, algs: Self.algorithmList))
        }
    }

    static func describe(_ failure: DPoPProof.Failure) -> String {
        switch failure {
        case .malformed: "DPoP proof is malformed"
        case .wrongType: "DPoP proof typ must be dpop+jwt"
        case .algorithmNotAllowed: "DPoP proof algorithm not allowed"
        case .badKey: "DPoP proof key is missing, private or unusable"
        case .badSignature: "DPoP proof signature is invalid"
        case .wrongMethod: "DPoP proof htm does not match the request"
        case .wrongURI: "DPoP proof htu does not match the request"
        case .stale: "DPoP proof iat is outside the accepted window"
        case .missingAccessTokenHash: "DPoP proof lacks ath"
        case .wrongAccessTokenHash: "DPoP proof ath does not match the access token"
        case .nonceRequired: "DPoP proof nonce required"
        }
    }
}
