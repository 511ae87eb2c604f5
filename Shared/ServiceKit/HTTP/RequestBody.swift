public import Foundation
import HTTPTypes
public import Hummingbird
public import NIOCore

extension Request {
    /// The media type of the body, lower-cased, without parameters.
    public var mediaType: String? {
        guard let value = headers.value(.contentType) else { return nil }
        // Byte-level (ASCII) trimming and lower-casing: Foundation's `trimmingCharacters` showed
        // up on the token endpoint's profile.
        var bytes = Array(value.utf8.prefix { $0 != UInt8(ascii: ";") })
        while let last = bytes.last, last == 0x20 || last == 0x09 { bytes.removeLast() }
        let start = bytes.firstIndex { $0 != 0x20 && $0 != 0x09 } ?? bytes.endIndex
        return String(decoding: bytes[start...].map { $0 >= 0x41 && $0 <= 0x5A ? $0 | 0x20 : $0 }, as: UTF8.self)
    }

    /// Whether the media type is `expected` (lower-case ASCII), compared without building
    /// strings: the same answer as `mediaType == expected`.
    public func hasMediaType(_ expected: String) -> Bool {
        guard let value = headers.value(.contentType) else { return false }
        let type = value.utf8.prefix { $0 != UInt8(ascii: ";") }
        guard let first = type.firstIndex(where: { $0 != 0x20 && $0 != 0x09 }),
            let last = type.lastIndex(where: { $0 != 0x20 && $0 != 0x09 })
        else { return expected.isEmpty }
        return type[first...last].elementsEqual(expected.utf8) { ($0 >= 0x41 && $0 <= 0x5A ? $0 | 0x20 : $0) == $1 }
    }

    /// An `application/x-www-form-urlencoded` body, strictly parsed (see `FormParameters`).
    /// Any other content type is `invalid_request`; a body over `limit` bytes is 413.
    public mutating func formParameters(limit: Int, repeatable: Set<String> = []) async throws -> FormParameters {
        guard hasMediaType("application/x-www-form-urlencoded") else {
            throw OAuthError.invalidRequest("content type must be application/x-www-form-urlencoded")
        }
        try Self.requireUTF8Charset(headers.value(.contentType))
        let buffer = try await collectBody(upTo: limit)
        return try FormParameters(parsing: buffer.readableBytesView, repeatable: repeatable)
    }

    /// The query string, strictly parsed.
    public func queryParameters(repeatable: Set<String> = []) throws -> FormParameters {
        guard let query = uri.query else { return FormParameters([]) }
        return try FormParameters(parsing: Array(query.utf8), repeatable: repeatable)
    }

    /// A JSON body decoded as `T`. Wrong content type, invalid UTF-8 or JSON that does not match
    /// is `errorCode` (`invalid_request` unless the endpoint's RFC names another, such as RFC
    /// 7591's `invalid_client_metadata`); a body over `limit` bytes is 413.
    public mutating func jsonBody<T: Decodable>(_ type: T.Type, limit: Int, errorCode: OAuthError.Code = .invalidRequest) async throws -> T {
        guard hasMediaType("application/json") else {
            throw OAuthError(errorCode, description: "content type must be application/json")
        }
        try Self.requireUTF8Charset(headers.value(.contentType))
        let buffer = try await collectBody(upTo: limit)
        let bytes = Array(buffer.readableBytesView)
        guard String(validating: bytes, as: UTF8.self) != nil else {
            throw OAuthError(errorCode, description: "body is not valid UTF-8")
        }
        do {
            return try JSONDecoder().decode(T.self, from: Data(bytes))
        } catch {
            throw OAuthError(errorCode, description: "malformed JSON body")
        }
    }

    static func requireUTF8Charset(_ contentType: String?) throws {
        guard let contentType, contentType.utf8.contains(UInt8(ascii: ";")) else { return }
        for parameter in contentType.split(separator: ";").dropFirst() {
            let pair = parameter.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
            if pair.count == 2, pair[0] == "charset", !["utf-8", "\"utf-8\"", "utf8"].contains(pair[1]) {
                throw OAuthError.invalidRequest("charset must be UTF-8")
            }
        }
    }
}

extension Response {
    /// A JSON response. `cacheControl` defaults to `no-store`: most of what an authorization
    /// server answers must not be cached.
    public static func json<T: Encodable>(_ value: T, status: HTTPResponse.Status = .ok, cacheControl: String = "no-store", extraHeaders: HTTPFields = [:]) throws -> Response {
        json(encoded: try jsonBuffer(value), status: status, cacheControl: cacheControl, extraHeaders: extraHeaders)
    }

    /// `value` as the JSON bytes `json(_:)` sends (sorted keys, unescaped slashes).
    public static func jsonBuffer<T: Encodable>(_ value: T) throws -> ByteBuffer {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return ByteBuffer(bytes: try encoder.encode(value))
    }

    /// A JSON response from bytes encoded beforehand (a cached answer).
    public static func json(encoded: ByteBuffer, status: HTTPResponse.Status = .ok, cacheControl: String = "no-store", extraHeaders: HTTPFields = [:]) -> Response {
        var headers = extraHeaders
        headers.set(.contentType, "application/json")
        headers.set(.cacheControl, cacheControl)
        return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: encoded))
    }
}
