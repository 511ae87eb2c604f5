import HummingbirdCore
import Logging
import Foundation
import NIOCore

/// A Swift concurrency task executor that runs jobs on one SwiftNIO event loop.
///
/// A connection's task that prefers this executor (`withTaskExecutorPreference`) runs its
/// nonisolated code, the request handlers included, on the thread that reads and writes its
/// socket: reading a request part and writing a response no longer wake another thread. Actors
/// keep their own executors; structured child tasks inherit the preference.
final class EventLoopTaskExecutor: TaskExecutor {
    let eventLoop: any EventLoop

    init(_ eventLoop: any EventLoop) {
        self.eventLoop = eventLoop
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        eventLoop.execute { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
    }
}

/// Wraps a child-channel setup (HTTP/1, or TLS around it) so that each connection is handled
/// on its own channel's event loop (see `EventLoopTaskExecutor`).
struct EventLoopPinnedChannel<Base: ServerChildChannel>: ServerChildChannel {
    typealias Value = Base.Value
    let base: Base

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        base.setup(channel: channel, logger: logger)
    }

    func handle(value: Value, logger: Logger) async {
        await withTaskExecutorPreference(EventLoopTaskExecutor(value.channel.eventLoop)) {
            await base.handle(value: value, logger: logger)
        }
    }
}

/// Where Swift concurrency runs request handlers, from `NEOSEC_EXECUTOR`:
/// - `loop` (default): each connection's task prefers its channel's event loop
///   (`EventLoopPinnedChannel`); everything else stays on the cooperative pool.
/// - `swift`: handlers run on Swift's cooperative pool, one thread hop each way per request.
/// - `nio`: NIO's event loops replace the global executor for the whole process
///   (`unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor`).
/// Request paths never block in async code (password hashing runs on NIO's thread pool, SQLite
/// on GRDB's queues), which the first and last modes require. Figures: docs/benchmarks.md.
enum ExecutorChoice: String {
    case loop, swift, nio

    /// The configured choice; nil when `NEOSEC_EXECUTOR` holds anything else (a start-up error).
    static let configured: ExecutorChoice? = {
        guard let value = ProcessInfo.processInfo.environment["NEOSEC_EXECUTOR"] else { return .loop }
        return ExecutorChoice(rawValue: value)
    }()

    static var current: ExecutorChoice { configured ?? .loop }
}
