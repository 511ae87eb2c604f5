import _CryptoExtras
import Crypto
import Foundation
import JOSE
import NIOPosix
import ServiceKit

/// Password hashing with scrypt (RFC 7914), the memory-hard function SPEC §5 allows, at the
/// OWASP Password Storage Cheat Sheet minimum: N = 2^17, r = 8, p = 1 (128 MiB per hash).
///
/// Encoded as `$scrypt$ln=17,r=8,p=1$<base64url salt>$<base64url hash>` (16-byte random salt,
/// 32-byte output), so the parameters travel with each hash and can be raised later
/// (`needsRehash`). Hashing runs on NIO's blocking thread pool, never on an event loop, and at
/// most `maximumConcurrentHashes` run at once so that a burst of logins cannot exhaust memory.
struct PasswordHasher: Sendable {
    struct Parameters: Sendable, Equatable {
        var logN: Int
        var r: Int
        var p: Int

        /// What `verify` is willing to run: a stored string must not make us allocate gigabytes.
        var isAcceptable: Bool {
            (10...20).contains(logN) && (1...16).contains(r) && (1...4).contains(p) && 128 * r << logN <= 1 << 30
        }
    }

    static let scheme = "scrypt"
    static let saltBytes = 16
    static let hashBytes = 32
    static let maximumConcurrentHashes = 2

    let current: Parameters
    /// Verified when the username is unknown, so that an unknown name costs the same scrypt run
    /// as a wrong password. Random bytes in the hash position: no password ever matches it.
    let dummyHash: String
    private let permits: AsyncSemaphore

    /// - Parameter logN: log2 of the scrypt cost N; 17 in production, lower in tests.
    init(logN: Int = 17) {
        precondition((10...20).contains(logN), "scrypt logN out of range")
        current = Parameters(logN: logN, r: 8, p: 1)
        dummyHash = Self.encode(current, salt: RandomToken.randomBytes(Self.saltBytes), hash: RandomToken.randomBytes(Self.hashBytes))
        permits = AsyncSemaphore(permits: Self.maximumConcurrentHashes)
    }

    /// A new encoded hash of `password` with a fresh salt and the current parameters.
    func hash(_ password: String) async throws -> String {
        let salt = RandomToken.randomBytes(Self.saltBytes)
        guard let derived = try await derive(password, salt: salt, parameters: current, length: Self.hashBytes) else {
            throw PasswordHashError.failed
        }
        return Self.encode(current, salt: salt, hash: derived)
    }

    /// Whether `password` matches `encoded`. A malformed or out-of-range encoding is a mismatch.
    func verify(password: String, encoded: String) async throws -> Bool {
        guard let decoded = Self.decode(encoded), decoded.parameters.isAcceptable,
            let derived = try await derive(password, salt: decoded.salt, parameters: decoded.parameters, length: decoded.hash.count)
        else { return false }
        return ConstantTime.equals(derived, decoded.hash)
    }

    /// True when `encoded` was made with weaker parameters than the current ones (or cannot be read).
    func needsRehash(_ encoded: String) -> Bool {
        guard let parameters = Self.decode(encoded)?.parameters else { return true }
        return parameters.logN < current.logN || parameters.r < current.r || parameters.p < current.p
    }

    // MARK: - Encoding

    static func encode(_ parameters: Parameters, salt: [UInt8], hash: [UInt8]) -> String {
        "$\(scheme)$ln=\(parameters.logN),r=\(parameters.r),p=\(parameters.p)$\(Base64URL.encode(salt))$\(Base64URL.encode(hash))"
    }

    struct Decoded {
        var parameters: Parameters
        var salt: [UInt8]
        var hash: [UInt8]
    }

    static func decode(_ encoded: String) -> Decoded? {
        let parts = encoded.split(separator: "$", omittingEmptySubsequences: false)
        guard parts.count == 5, parts[0].isEmpty, parts[1] == scheme else { return nil }
        let fields = parts[2].split(separator: ",", omittingEmptySubsequences: false)
        guard fields.count == 3 else { return nil }
        var values: [Int] = []
        for (field, name) in zip(fields, ["ln", "r", "p"]) {
            let pair = field.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard pair.count == 2, pair[0] == name, pair[1].count <= 3, let value = Int(pair[1]) else { return nil }
            values.append(value)
        }
        guard let salt = Base64URL.decode(parts[3]), (8...64).contains(salt.count),
            let hash = Base64URL.decode(parts[4]), (16...64).contains(hash.count)
        else { return nil }
        return Decoded(parameters: Parameters(logN: values[0], r: values[1], p: values[2]), salt: Array(salt), hash: Array(hash))
    }

    // MARK: - Derivation

    /// scrypt off the event loop, under the concurrency limit. Nil when scrypt refuses the input
    /// (parameters BoringSSL does not support); thread-pool shutdown and cancellation throw.
    private func derive(_ password: String, salt: [UInt8], parameters: Parameters, length: Int) async throws -> [UInt8]? {
        // NIST SP 800-63B §5.1.1.2: normalise Unicode so the same password typed on another
        // keyboard or platform still matches.
        let bytes = Array(password.precomposedStringWithCanonicalMapping.utf8)
        // BoringSSL needs a non-empty buffer; an empty password never matches anything anyway.
        guard !bytes.isEmpty else { return nil }
        return try await permits.withPermit {
            try await NIOThreadPool.singleton.runIfActive { () throws -> [UInt8]? in
                guard
                    let key = try? KDF.Scrypt.deriveKey(
                        from: bytes, salt: salt, outputByteCount: length, rounds: 1 << parameters.logN, blockSize: parameters.r,
                        parallelism: parameters.p
                    )
                else { return nil }
                return key.withUnsafeBytes { Array($0) }
            }
        }
    }
}

/// Password hashing failed for a reason other than a wrong password. Fixed message only.
struct PasswordHashError: Error, CustomStringConvertible {
    let description: String
    static let failed = PasswordHashError(description: "password hashing failed")
}

/// A counting semaphore for async code: at most `permits` bodies run at once; the others wait
/// in arrival order.
actor AsyncSemaphore {
    private var available: Int
    private var waiters: [CheckedContinuation<Void, Never>] = []

    init(permits: Int) { available = permits }

    func acquire() async {
        if available > 0 {
            available -= 1
            return
        }
        await withCheckedContinuation { waiters.append($0) }
    }

    func release() {
        if waiters.isEmpty {
            available += 1
        } else {
            // The permit passes straight to the next waiter.
            waiters.removeFirst().resume()
        }
    }

    nonisolated func withPermit<T: Sendable>(_ body: @Sendable () async throws -> T) async throws -> T {
        await acquire()
        do {
            let result = try await body()
            await release()
            return result
        } catch {
            await release()
            throw error
        }
    }
}

/// Password-hashing cost, for `neosec bench password-hash` (docs/benchmarks.md): how many scrypt
/// hashes one core computes per second with the given cost.
public enum PasswordHashBenchmark {
    /// Hashes sequentially (one core) for about `seconds`; returns (hashes, elapsed seconds).
    public static func run(logN: Int, seconds: Double) async throws -> (hashes: Int, elapsed: Double) {
        let hasher = PasswordHasher(logN: logN)
        let start = ContinuousClock.now
        var count = 0
        while true {
            _ = try await hasher.hash("benchmark-password-\(count)")
            count += 1
            let elapsed = ContinuousClock.now - start
            let value = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            if value >= seconds { return (count, value) }
        }
    }
}
