public import HTTPTypes

/// Header names HTTPTypes does not predefine, built once: `HTTPField.Name(_:)` validates and
/// lowercases its argument, which on a per-request path is an allocation for nothing.
extension HTTPField.Name {
    public static let xRequestID = HTTPField.Name("X-Request-Id")!
    public static let xFrameOptions = HTTPField.Name("X-Frame-Options")!
    public static let referrerPolicy = HTTPField.Name("Referrer-Policy")!
    public static let pragma = HTTPField.Name("Pragma")!
    /// RFC 9449 §8.
    public static let dpopNonce = HTTPField.Name("DPoP-Nonce")!
}
