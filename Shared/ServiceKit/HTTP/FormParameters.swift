/// Strictly parsed `application/x-www-form-urlencoded` parameters (request bodies and query
/// strings).
///
/// Stricter than browsers, on purpose: a malformed percent escape, invalid UTF-8, too many
/// parameters, or a parameter sent twice that the endpoint does not allow to repeat is an
/// `invalid_request` (RFC 6749 §3.1: "Request and response parameters MUST NOT be included more
/// than once"). Parameters sent without a value are treated as omitted (also RFC 6749 §3.1).
public struct FormParameters: Sendable, Equatable {
    public struct Limits: Sendable {
        public var maximumCount: Int
        public var maximumNameLength: Int
        public var maximumValueLength: Int

        public init(maximumCount: Int = 64, maximumNameLength: Int = 64, maximumValueLength: Int = 16 * 1024) {
            self.maximumCount = maximumCount
            self.maximumNameLength = maximumNameLength
            self.maximumValueLength = maximumValueLength
        }

        public static let standard = Limits()
    }

    /// Parameters in the order received; names are unique except those in `repeatable`.
    public private(set) var pairs: [(name: String, value: String)]

    public static func == (lhs: FormParameters, rhs: FormParameters) -> Bool {
        lhs.pairs.map(\.name) == rhs.pairs.map(\.name) && lhs.pairs.map(\.value) == rhs.pairs.map(\.value)
    }

    /// - Parameter repeatable: names this endpoint accepts more than once (RFC 8707 `resource`,
    ///   RFC 8693 `audience`, a form's `scope` checkboxes). Every other name must appear once.
    public init<Bytes: Collection>(parsing bytes: Bytes, repeatable: Set<String> = [], limits: Limits = .standard) throws(OAuthError)
    where Bytes.Element == UInt8 {
        var pairs: [(name: String, value: String)] = []
        var seen: Set<String> = []
        var count = 0
        for segment in bytes.split(separator: UInt8(ascii: "&"), omittingEmptySubsequences: true) {
            count += 1
            guard count <= limits.maximumCount else { throw OAuthError.invalidRequest("too many parameters") }
            let rawName: Bytes.SubSequence.SubSequence
            let rawValue: Bytes.SubSequence.SubSequence
            if let equals = segment.firstIndex(of: UInt8(ascii: "=")) {
                rawName = segment[segment.startIndex..<equals]
                rawValue = segment[segment.index(after: equals)...]
            } else {
                rawName = segment[...]
                rawValue = segment[segment.endIndex...]
            }
            guard rawName.count <= limits.maximumNameLength * 3, rawValue.count <= limits.maximumValueLength * 3 else {
                throw OAuthError.invalidRequest("parameter too long")
            }
            let name = try Self.decode(rawName)
            let value = try Self.decode(rawValue)
            guard !name.isEmpty else { throw OAuthError.invalidRequest("parameter without a name") }
            guard name.utf8.count <= limits.maximumNameLength, value.utf8.count <= limits.maximumValueLength else {
                throw OAuthError.invalidRequest("parameter too long")
            }
            if value.isEmpty { continue }
            if seen.contains(name), !repeatable.contains(name) {
                throw OAuthError.invalidRequest("duplicated parameter")
            }
            seen.insert(name)
            pairs.append((name, value))
        }
        self.pairs = pairs
    }

    public init(_ pairs: [(name: String, value: String)]) { self.pairs = pairs }

    /// The single value of `name`, or nil when absent.
    public subscript(_ name: String) -> String? {
        pairs.first(where: { $0.name == name })?.value
    }

    /// Every value of a repeatable parameter.
    public func values(_ name: String) -> [String] {
        pairs.filter { $0.name == name }.map(\.value)
    }

    /// The value of a required parameter, or `invalid_request` naming it.
    public func require(_ name: String) throws(OAuthError) -> String {
        guard let value = self[name] else { throw OAuthError.invalidRequest("missing parameter: \(name)") }
        return value
    }

    public var names: [String] { pairs.map(\.name) }

    /// As the generic `decode(_:)`, specialised here: generic code called from another module
    /// runs unspecialised, through witness tables, byte by byte (Basic credentials are decoded so
    /// on every token request).
    public static func decode(_ bytes: ArraySlice<UInt8>) throws(OAuthError) -> String {
        try percentDecode(bytes)
    }

    /// Percent-decoding with `+` as space, refusing malformed escapes and invalid UTF-8.
    public static func decode<S: Collection>(_ bytes: S) throws(OAuthError) -> String where S.Element == UInt8 {
        try percentDecode(bytes)
    }

    private static func percentDecode<S: Collection>(_ bytes: S) throws(OAuthError) -> String where S.Element == UInt8 {
        var output: [UInt8] = []
        output.reserveCapacity(bytes.count)
        var index = bytes.startIndex
        while index != bytes.endIndex {
            let byte = bytes[index]
            switch byte {
            case UInt8(ascii: "+"):
                output.append(UInt8(ascii: " "))
            case UInt8(ascii: "%"):
                let first = bytes.index(after: index)
                guard first != bytes.endIndex else { throw OAuthError.invalidRequest("malformed percent-encoding") }
                let second = bytes.index(after: first)
                guard second != bytes.endIndex, let high = hexValue(bytes[first]), let low = hexValue(bytes[second]) else {
                    throw OAuthError.invalidRequest("malformed percent-encoding")
                }
                output.append(high << 4 | low)
                index = second
            default:
                output.append(byte)
            }
            index = bytes.index(after: index)
        }
        // Control characters other than tab/newline have no business in protocol parameters. They
        // are single bytes in UTF-8, and no byte of a multi-byte sequence is below 0x80.
        if output.contains(where: { ($0 < 0x20 && $0 != 0x09 && $0 != 0x0A && $0 != 0x0D) || $0 == 0x7F }) {
            throw OAuthError.invalidRequest("parameters contain control characters")
        }
        guard let string = String(validating: output, as: UTF8.self) else {
            throw OAuthError.invalidRequest("parameters are not valid UTF-8")
        }
        return string
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
