/// Writes one flat JSON object (RFC 8259) straight into bytes, for the documents every token
/// request produces (the access token's claims, the token response). Foundation's `JSONEncoder`
/// goes through the generic `Encoder` machinery and cost more per token than the ES256 signature.
///
/// Keys are static ASCII names chosen by the caller; string values are escaped as RFC 8259 §7
/// requires (`"`, `\` and the control characters below U+0020), `/` is left as is (the output
/// of `JSONEncoder` with `.withoutEscapingSlashes`). Values of other shapes come in pre-encoded
/// through `field(_:json:)`.
public struct JSONObjectWriter {
    public private(set) var bytes: [UInt8]
    private var empty = true

    public init(capacity: Int = 512) {
        bytes = []
        bytes.reserveCapacity(capacity)
        bytes.append(UInt8(ascii: "{"))
    }

    public mutating func field(_ key: StaticString, _ value: String) {
        open(key)
        Self.appendString(value, to: &bytes)
    }

    public mutating func field(_ key: StaticString, _ value: String?) {
        if let value { field(key, value) }
    }

    public mutating func field(_ key: StaticString, _ value: Int64) {
        open(key)
        bytes.append(contentsOf: String(value).utf8)
    }

    public mutating func field(_ key: StaticString, _ value: Int64?) {
        if let value { field(key, value) }
    }

    public mutating func field(_ key: StaticString, _ value: Int?) {
        if let value { field(key, Int64(value)) }
    }

    public mutating func field(_ key: StaticString, _ value: Bool?) {
        guard let value else { return }
        open(key)
        bytes.append(contentsOf: (value ? "true" : "false").utf8)
    }

    /// An array of strings.
    public mutating func field(_ key: StaticString, _ values: [String]) {
        open(key)
        bytes.append(UInt8(ascii: "["))
        for (index, value) in values.enumerated() {
            if index > 0 { bytes.append(UInt8(ascii: ",")) }
            Self.appendString(value, to: &bytes)
        }
        bytes.append(UInt8(ascii: "]"))
    }

    /// A value that is already valid JSON (an object or array encoded elsewhere).
    public mutating func field(_ key: StaticString, json: [UInt8]) {
        open(key)
        bytes.append(contentsOf: json)
    }

    /// The finished object.
    public consuming func finish() -> [UInt8] {
        bytes.append(UInt8(ascii: "}"))
        return bytes
    }

    private mutating func open(_ key: StaticString) {
        if !empty { bytes.append(UInt8(ascii: ",")) }
        empty = false
        bytes.append(UInt8(ascii: "\""))
        key.withUTF8Buffer { bytes.append(contentsOf: $0) }
        bytes.append(contentsOf: [UInt8(ascii: "\""), UInt8(ascii: ":")])
    }

    private static let hex = Array("0123456789abcdef".utf8)

    static func appendString(_ value: String, to bytes: inout [UInt8]) {
        bytes.append(UInt8(ascii: "\""))
        // Tokens, URLs and ids need no escaping: copied whole, scanned over the string's own
        // storage (native strings have it) rather than through the generic `UTF8View`.
        let copied = value.utf8.withContiguousStorageIfAvailable { buffer -> Bool in
            for byte in buffer where byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") { return false }
            bytes.append(contentsOf: buffer)
            return true
        }
        if copied == true {
            bytes.append(UInt8(ascii: "\""))
            return
        }
        for byte in value.utf8 {
            switch byte {
            case UInt8(ascii: "\""): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\"")])
            case UInt8(ascii: "\\"): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\\")])
            case 0x0A: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "n")])
            case 0x0D: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "r")])
            case 0x09: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "t")])
            case 0x00..<0x20:
                bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0"), hex[Int(byte >> 4)], hex[Int(byte & 0x0F)]])
            default: bytes.append(byte)
            }
        }
        bytes.append(UInt8(ascii: "\""))
    }
}

extension TokenResponse {
    /// The response as JSON, keys sorted as `Response.json` sorts them.
    public var jsonBytes: [UInt8] {
        var writer = JSONObjectWriter(capacity: 256 + accessToken.utf8.count + (idToken?.utf8.count ?? 0))
        writer.field("access_token", accessToken)
        writer.field("expires_in", expiresIn)
        writer.field("id_token", idToken)
        writer.field("issued_token_type", issuedTokenType)
        writer.field("pct", pct)
        writer.field("refresh_count", refreshCount)
        writer.field("refresh_token", refreshToken)
        writer.field("refresh_token_expires_in", refreshTokenExpiresIn)
        writer.field("refresh_token_issued_at", refreshTokenIssuedAt)
        writer.field("scope", scope)
        writer.field("token_type", tokenType)
        writer.field("upgraded", upgraded)
        return writer.finish()
    }
}
