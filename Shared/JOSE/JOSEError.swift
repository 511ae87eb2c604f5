/// Errors raised by the JOSE library. Messages are fixed strings; they never carry key material
/// or token contents, so they are safe to log.
public struct JOSEError: Error, Sendable, Equatable, CustomStringConvertible {
    enum Code: String, Sendable {
        case malformed = "malformed token"
        case unsupportedAlgorithm = "unsupported algorithm"
        case missingKeyID = "missing kid"
        case unknownKeyID = "unknown kid"
        case algorithmMismatch = "algorithm does not match key"
        case wrongType = "wrong typ header"
        case badSignature = "signature verification failed"
        case claimInvalid = "claim invalid"
        case keyUnusable = "key material unusable"
        case decryptionFailed = "key decryption failed"
    }

    let code: Code
    /// Which claim or header failed, when useful (a fixed name such as "exp", never a value).
    public let detail: String?

    private init(_ code: Code, _ detail: String? = nil) {
        self.code = code
        self.detail = detail
    }

    public var description: String { detail.map { "\(code.rawValue): \($0)" } ?? code.rawValue }

    public static let malformed = JOSEError(.malformed)
    public static let unsupportedAlgorithm = JOSEError(.unsupportedAlgorithm)
    public static let missingKeyID = JOSEError(.missingKeyID)
    public static let unknownKeyID = JOSEError(.unknownKeyID)
    public static let algorithmMismatch = JOSEError(.algorithmMismatch)
    public static let wrongType = JOSEError(.wrongType)
    public static let badSignature = JOSEError(.badSignature)
    public static let keyUnusable = JOSEError(.keyUnusable)
    public static let decryptionFailed = JOSEError(.decryptionFailed)
    public static func claimInvalid(_ claim: String) -> JOSEError { JOSEError(.claimInvalid, claim) }
}
