public import Foundation

/// A built executable started for an end-to-end test, with its output captured to files.
public final class ChildProcess: @unchecked Sendable {
    public let process = Process()
    public let stdoutPath: String
    public let stderrPath: String

    public init(executable: URL, arguments: [String], environment: [String: String], logDirectory: String, name: String) throws {
        stdoutPath = "\(logDirectory)/\(name).stdout"
        stderrPath = "\(logDirectory)/\(name).stderr"
        FileManager.default.createFile(atPath: stdoutPath, contents: nil)
        FileManager.default.createFile(atPath: stderrPath, contents: nil)
        process.executableURL = executable
        process.arguments = arguments
        var merged = ProcessInfo.processInfo.environment
        for (key, _) in merged where key.hasPrefix("NEOSEC_") && key != "NEOSEC_BIN_DIR" { merged[key] = nil }
        merged.merge(environment) { $1 }
        process.environment = merged
        process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: stdoutPath))
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: stderrPath))
        try process.run()
    }

    public var stdout: String { (try? String(contentsOfFile: stdoutPath, encoding: .utf8)) ?? "" }
    public var stderr: String { (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? "" }

    public func signal(_ number: Int32) { kill(process.processIdentifier, number) }

    /// Waits for the process to exit; returns its status, or nil on time-out (it is then killed).
    public func waitForExit(timeout: Duration) async -> Int32? {
        let deadline = ContinuousClock.now + timeout
        while process.isRunning && ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(50))
        }
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            return nil
        }
        return process.terminationStatus
    }

    /// Polls `condition` until it holds or `timeout` passes.
    public static func eventually(timeout: Duration, _ condition: () async -> Bool) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if await condition() { return true }
            try? await Task.sleep(for: .milliseconds(100))
        }
        return await condition()
    }

    /// PIDs of running processes whose environment contains `marker` (e.g. a data directory).
    public static func processes(withEnvironmentContaining marker: String) -> [Int32] {
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return [] }
        return entries.compactMap { entry -> Int32? in
            guard let pid = Int32(entry), pid != getpid(),
                let data = FileManager.default.contents(atPath: "/proc/\(entry)/environ"),
                String(decoding: data, as: UTF8.self).contains(marker)
            else { return nil }
            // Zombies (exited, not yet reaped) are not left-behind services.
            if let status = try? String(contentsOfFile: "/proc/\(entry)/stat", encoding: .utf8),
                let close = status.lastIndex(of: ")"), status[status.index(close, offsetBy: 2)] == "Z"
            {
                return nil
            }
            return pid
        }
    }
}
