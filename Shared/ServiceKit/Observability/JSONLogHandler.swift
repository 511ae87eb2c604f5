public import Foundation
public import Logging
import Synchronization

/// One JSON object per line on standard error, with redaction as the last line of defence:
/// metadata under sensitive keys, and anything shaped like a NeoSec credential or a JWT, is
/// replaced before it is written. Code must still never log a secret; this catches slips.
public struct JSONLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level
    private let label: String
    private let sink: LogSink

    public init(label: String, level: Logger.Level, sink: LogSink = .standardError) {
        self.label = label
        self.logLevel = level
        self.sink = sink
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(
        level: Logger.Level,
        message: Logger.Message,
        metadata explicit: Logger.Metadata?,
        source: String,
        file: String,
        function: String,
        line: UInt
    ) {
        var merged = self.metadata
        if let explicit { merged.merge(explicit) { $1 } }
        // Every request's lines carry `request_id`: the caller's `X-Request-Id` when it sent an
        // acceptable one (`RequestLogMiddleware`; Hummingbird's own id then stays beside it as
        // `hb.request.id`), else Hummingbird's id, moved to that key.
        if merged["request_id"] == nil, let hummingbirdID = merged.removeValue(forKey: Self.hummingbirdRequestIDKey) {
            merged["request_id"] = hummingbirdID
        }
        var object: [String: Any] = [
            "ts": Self.timestamp(),
            "level": level.rawValue,
            "logger": label,
            "msg": LogRedaction.scrub(message.description),
        ]
        for (key, value) in merged {
            object[key] = LogRedaction.isSensitiveKey(key) ? LogRedaction.placeholder : LogRedaction.scrub(Self.flatten(value))
        }
        guard let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes]) else { return }
        sink.write(data + Data([0x0A]))
    }

    static let hummingbirdRequestIDKey = "hb.request.id"

    private static func flatten(_ value: Logger.Metadata.Value) -> String {
        switch value {
        case .string(let string): string
        case .stringConvertible(let convertible): convertible.description
        case .array(let array): "[" + array.map(flatten).joined(separator: ", ") + "]"
        case .dictionary(let dictionary):
            "{" + dictionary.sorted(by: { $0.key < $1.key }).map { key, value in
                "\(key): \(LogRedaction.isSensitiveKey(key) ? LogRedaction.placeholder : flatten(value))"
            }.joined(separator: ", ") + "}"
        }
    }

    private static func timestamp() -> String {
        Date().formatted(.iso8601.year().month().day().time(includingFractionalSeconds: true).timeZone(separator: .omitted))
    }
}

/// Where log lines go. A test can capture them to assert that nothing sensitive is written.
public final class LogSink: Sendable {
    private let handle: Mutex<FileHandle?>
    private let captured: Mutex<[String]?>

    private init(handle: FileHandle?, capture: Bool) {
        self.handle = Mutex(handle)
        self.captured = Mutex(capture ? [] : nil)
    }

    public static let standardError = LogSink(handle: FileHandle.standardError, capture: false)

    /// A sink that keeps lines in memory.
    public static func capturing() -> LogSink { LogSink(handle: nil, capture: true) }

    public var lines: [String] { captured.withLock { $0 ?? [] } }

    func write(_ data: Data) {
        captured.withLock { lines in
            lines?.append(String(decoding: data.dropLast(), as: UTF8.self))
        }
        handle.withLock { $0?.write(data) }
    }
}

/// Redaction rules shared by the log handler and tests.
public enum LogRedaction {
    public static let placeholder = "[REDACTED]"

    private static let sensitiveFragments = [
        "password", "secret", "token", "authorization", "cookie", "assertion", "private", "otp", "credential",
        "master", "api_key", "apikey", "code_verifier", "ticket", "session",
    ]

    public static func isSensitiveKey(_ key: String) -> Bool {
        let lowered = key.lowercased()
        if lowered == "hb.request.id" || lowered == "request_id" { return false }
        return sensitiveFragments.contains { lowered.contains($0) }
    }

    /// Replaces JWT-shaped strings (`eyJ….….…`) and NeoSec opaque credentials (`neo_at_…`,
    /// `neo_rt_…`, `neo_ac_…`, `neo_iat_…`) with the placeholder.
    public static func scrub(_ text: String) -> String {
        guard text.contains("eyJ") || text.contains("neo_") else { return text }
        var output = ""
        var token = ""
        func flush() {
            if token.hasPrefix("eyJ") && token.filter({ $0 == "." }).count >= 1 || token.hasPrefix("neo_") {
                output += placeholder
            } else {
                output += token
            }
            token = ""
        }
        for character in text {
            if character.isLetter || character.isNumber || character == "." || character == "_" || character == "-" {
                token.append(character)
            } else {
                flush()
                output.append(character)
            }
        }
        flush()
        return output
    }
}
