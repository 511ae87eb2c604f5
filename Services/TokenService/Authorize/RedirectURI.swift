import Foundation

/// Redirect URI rules (RFC 6749 §3.1.2, RFC 9700 §4.1.3, RFC 8252 §7).
///
/// Matching is exact string comparison of the whole URI — no normalisation of case, dots,
/// percent-encoding, trailing slashes or query order — with one exception: for an `http` URI
/// on a loopback IP literal, the port may differ (RFC 8252 §7.3), everything else still exact.
enum RedirectURI {
    static let maximumLength = 2048
    static let loopbackPrefixes = ["http://127.0.0.1", "http://[::1]"]

    /// Whether `uri` may be registered: an absolute https URL; http only on a loopback IP
    /// literal; for public (native) clients, a private-use scheme in reverse-domain form
    /// (RFC 8252 §7.1). Never a fragment, user info, or a scheme that runs code.
    static func isRegistrable(_ uri: String, publicClient: Bool) -> Bool {
        guard !uri.isEmpty, uri.utf8.count <= maximumLength, uri.unicodeScalars.allSatisfy({ $0.value > 0x20 && $0.value < 0x7F }),
            !uri.contains("#"), let components = URLComponents(string: uri), let scheme = components.scheme?.lowercased(),
            components.user == nil, components.password == nil
        else { return false }
        switch scheme {
        case "https":
            return components.host?.isEmpty == false && !uri.hasPrefix("https:///")
        case "http":
            return loopbackPrefixes.contains { uri.hasPrefix($0 + "/") || uri.hasPrefix($0 + ":") || uri == $0 }
                && loopbackRemainder(uri) != nil
        case "javascript", "data", "file", "vbscript", "blob", "about", "ftp", "ws", "wss":
            return false
        default:
            return publicClient && scheme.contains(".") && scheme.allSatisfy { $0.isLetter || $0.isNumber || $0 == "." || $0 == "+" || $0 == "-" }
        }
    }

    /// The registered URI that `requested` matches, or nil.
    static func match(_ requested: String, registered: [String]) -> String? {
        guard requested.utf8.count <= maximumLength else { return nil }
        if let exact = registered.first(where: { $0 == requested }) { return exact }
        guard let requestedRest = loopbackRemainder(requested) else { return nil }
        return registered.first { candidate in
            guard let rest = loopbackRemainder(candidate) else { return false }
            return rest.host == requestedRest.host && rest.remainder == requestedRest.remainder
        }
    }

    /// For `http://<loopback IP>[:port]<rest>`: the IP literal and `<rest>`, which must be empty
    /// or start with `/` or `?`. The port must be 1 to 5 digits.
    static func loopbackRemainder(_ uri: String) -> (host: String, remainder: Substring)? {
        for prefix in loopbackPrefixes where uri.hasPrefix(prefix) {
            var rest = uri.dropFirst(prefix.count)
            if rest.first == ":" {
                let digits = rest.dropFirst().prefix { $0.isASCII && $0.isNumber }
                guard (1...5).contains(digits.count), let port = Int(digits), (1...65535).contains(port) else { return nil }
                rest = rest.dropFirst(1 + digits.count)
            }
            guard rest.isEmpty || rest.first == "/" || rest.first == "?" else { return nil }
            return (prefix, rest)
        }
        return nil
    }

    /// `uri` with the authorization response parameters appended to its query (RFC 6749
    /// §4.1.2: the existing query component is retained).
    static func appending(_ parameters: [(String, String)], to uri: String) -> String {
        let encoded = parameters.map { "\($0.0)=\(formEncode($0.1))" }.joined(separator: "&")
        return uri + (uri.contains("?") ? "&" : "?") + encoded
    }

    /// `application/x-www-form-urlencoded` encoding of one value.
    static func formEncode(_ value: String) -> String {
        var allowed = CharacterSet.alphanumerics.intersection(CharacterSet(charactersIn: Unicode.Scalar(0)...Unicode.Scalar(127)))
        allowed.insert(charactersIn: "-._~")
        return value.addingPercentEncoding(withAllowedCharacters: allowed) ?? ""
    }
}
