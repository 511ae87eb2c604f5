public import Foundation
import Synchronization

/// Where "now" comes from. Everything with an expiry takes one, so tests can fix and move time.
public protocol TimeSource: Sendable {
    var now: Date { get }
}

extension TimeSource {
    /// Whole seconds since 1970, the unit of every JWT time claim and stored expiry.
    public var epochSeconds: Int64 { Int64(now.timeIntervalSince1970.rounded(.down)) }
}

/// The wall clock.
public struct SystemTime: TimeSource {
    public init() {}
    public var now: Date { Date() }
}

/// A clock that only moves when told to.
public final class FixedTime: TimeSource {
    private let current: Mutex<Date>

    public init(_ date: Date = Date(timeIntervalSince1970: 1_800_000_000)) { current = Mutex(date) }

    public var now: Date { current.withLock { $0 } }

    public func advance(by seconds: TimeInterval) { current.withLock { $0 += seconds } }
    public func set(_ date: Date) { current.withLock { $0 = date } }
}
