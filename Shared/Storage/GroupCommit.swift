import GRDB
import Synchronization

/// Group commit for SQLite: concurrent writes share one transaction, hence one fsync.
///
/// With `synchronous = FULL` every commit waits for the disk (about 0.5 ms here), and SQLite has
/// one writer, so one commit per write caps a store at ~2 000 writes/s whatever the CPU. Writers
/// queue their work here instead; whoever finds the queue idle asks GRDB's writer to drain it:
/// everything queued by then runs in one `BEGIN IMMEDIATE … COMMIT`, each job inside its own
/// savepoint, so a job that fails is rolled back alone and reports its own error. Every caller
/// resumes only after the commit that holds its job (or with the commit's error): what was
/// acknowledged is on disk, exactly as with one transaction per write.
final class GroupCommit: Sendable {
    /// Jobs per transaction at most (a long queue is drained in several).
    static let maximumBatch = 256

    struct Job: Sendable {
        /// Runs the caller's work inside its savepoint, keeping its result for `finish`.
        let run: @Sendable (Database) throws -> Void
        /// Resumes the caller: with its result after the commit, or with an error.
        let finish: @Sendable ((any Error)?) -> Void
    }

    private struct State {
        var pending: [Job] = []
        var draining = false
    }

    private let pool: DatabasePool
    private let state = Mutex(State())

    init(pool: DatabasePool) { self.pool = pool }

    /// Runs `body` in the next group transaction; returns once that transaction committed.
    func write<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        let slot = Mutex<T?>(nil)
        return try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            let job = Job(
                run: { db in
                    let value = try body(db)
                    slot.withLock { $0 = value }
                },
                finish: { error in
                    if let error {
                        continuation.resume(throwing: error)
                    } else if let value = slot.withLock({ slot -> T? in
                        defer { slot = nil }
                        return slot
                    }) {
                        continuation.resume(returning: value)
                    } else {
                        continuation.resume(throwing: StorageError.unavailable)
                    }
                }
            )
            let start = state.withLock { state -> Bool in
                state.pending.append(job)
                guard !state.draining else { return false }
                state.draining = true
                return true
            }
            if start { pool.asyncWriteWithoutTransaction { db in self.drain(db) } }
        }
    }

    /// On GRDB's writer: one transaction of queued jobs, then, if more are queued, another turn
    /// behind whatever else waits for the writer (migrations, close), so none of it starves.
    private func drain(_ db: Database) {
        let jobs = state.withLock { state -> [Job] in
            let count = min(state.pending.count, Self.maximumBatch)
            let batch = Array(state.pending.prefix(count))
            state.pending.removeFirst(count)
            return batch
        }
        let outcomes = Self.commit(jobs, in: db)
        for (job, outcome) in zip(jobs, outcomes) { job.finish(outcome) }
        let more = state.withLock { state -> Bool in
            guard !state.pending.isEmpty else {
                state.draining = false
                return false
            }
            return true
        }
        if more { pool.asyncWriteWithoutTransaction { db in self.drain(db) } }
    }

    /// One transaction for `jobs`: each job's error, or the transaction's for all of them.
    static func commit(_ jobs: [Job], in db: Database) -> [(any Error)?] {
        var outcomes: [(any Error)?] = []
        outcomes.reserveCapacity(jobs.count)
        do {
            try db.execute(sql: "BEGIN IMMEDIATE")
            for job in jobs {
                do {
                    // Prepared once per connection: these two run for every write.
                    try db.cachedStatement(sql: "SAVEPOINT job").execute()
                    try job.run(db)
                    try db.cachedStatement(sql: "RELEASE job").execute()
                    outcomes.append(nil)
                } catch {
                    // Some failures (I/O, full disk) make SQLite roll the whole transaction back:
                    // then nothing of this batch is kept, and every job says so.
                    guard db.isInsideTransaction else { throw error }
                    try db.execute(sql: "ROLLBACK TO job")
                    try db.execute(sql: "RELEASE job")
                    outcomes.append(error)
                }
            }
            try db.execute(sql: "COMMIT")
            return outcomes
        } catch {
            if db.isInsideTransaction { try? db.execute(sql: "ROLLBACK") }
            return jobs.map { _ in error }
        }
    }
}
