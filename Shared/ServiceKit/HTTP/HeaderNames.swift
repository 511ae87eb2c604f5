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

extension HTTPFields {
    /// What `self[name]` reads, without its cost on the common path: HTTPTypes' getter joins the
    /// values through a generic `joined(separator:)` over a lazy map even when there is a single
    /// field, which instantiates generic metadata on every call (4 % of an introspection cache
    /// hit). One field: its value. Several: `self[name]` (joined with ", ", or "; " for Cookie).
    /// None: nil.
    public func value(_ name: HTTPField.Name) -> String? {
        var found: String?
        for index in indices where self[index].name == name {
            if found != nil { return self[name] }
            found = self[index].value
        }
        return found
    }

    /// `self[name] = value`, appending directly when no such field exists yet (the usual case)
    /// instead of going through HTTPTypes' replace-all setter (which also splits a Cookie value).
    public mutating func set(_ name: HTTPField.Name, _ value: String) {
        if name == .cookie || contains(name) {
            self[name] = value
        } else {
            append(HTTPField(name: name, value: value))
        }
    }
}

/// The `Authorization` header's scheme.
public enum AuthorizationHeader {
    /// Whether `header` is `scheme` (given in lower-case ASCII letters, matched without case:
    /// RFC 9110 §11.1) followed by one space, compared as bytes.
    public static func hasScheme(_ header: String, _ scheme: String) -> Bool {
        let bytes = header.utf8
        let name = scheme.utf8
        guard bytes.count > name.count else { return false }
        // `| 0x20` lower-cases ASCII letters; no other byte becomes a letter by it.
        return bytes.prefix(name.count).elementsEqual(name) { $0 | 0x20 == $1 } && bytes.dropFirst(name.count).first == UInt8(ascii: " ")
    }
}
