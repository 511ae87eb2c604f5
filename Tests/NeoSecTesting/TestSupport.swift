public import Foundation
public import JOSE
public import Logging
public import ServiceKit
public import Storage
public import WireModels
import Synchronization

/// A fresh directory under the system temporary directory, removed by `remove()`.
public struct TemporaryDirectory: Sendable {
    public let path: String

    public init() throws {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("neosec-test-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    public func remove() { try? FileManager.default.removeItem(atPath: path) }
}

/// The storage backends the suite runs against: SQLite always; PostgreSQL when
/// `NEOSEC_TEST_POSTGRES_URL` names a server (`scripts/test.sh` and `.ci/run` start one).
public enum TestBackend: String, Sendable, CaseIterable {
    case sqlite
    case postgres

    public static var postgresURL: String? {
        let value = ProcessInfo.processInfo.environment["NEOSEC_TEST_POSTGRES_URL"]
        return (value?.isEmpty ?? true) ? nil : value
    }

    /// A login role of the same PostgreSQL server with no rights of its own
    /// (`NEOSEC_TEST_POSTGRES_READER_URL`; `scripts/test.sh` creates `neosec_reader`), for the
    /// read-only role of the Introspection Service.
    public static var postgresReaderURL: String? {
        let value = ProcessInfo.processInfo.environment["NEOSEC_TEST_POSTGRES_READER_URL"]
        if value?.isEmpty ?? true {
            precondition(
                postgresURL == nil || ProcessInfo.processInfo.environment["NEOSEC_REQUIRE_POSTGRES"] != "1",
                "NEOSEC_REQUIRE_POSTGRES=1 but NEOSEC_TEST_POSTGRES_READER_URL is not set"
            )
            return nil
        }
        return value
    }

    /// SQLite, plus PostgreSQL when configured. When `NEOSEC_REQUIRE_POSTGRES=1` (CI) a missing
    /// server is a failure, not a quiet skip.
    public static var available: [TestBackend] {
        if postgresURL != nil { return [.sqlite, .postgres] }
        precondition(ProcessInfo.processInfo.environment["NEOSEC_REQUIRE_POSTGRES"] != "1", "NEOSEC_REQUIRE_POSTGRES=1 but NEOSEC_TEST_POSTGRES_URL is not set")
        return [.sqlite]
    }

    /// A fresh, empty database: a new SQLite file, or a new PostgreSQL schema.
    public func openFresh(in directory: TemporaryDirectory) throws -> any SQLDatabase {
        switch self {
        case .sqlite:
            return try SQLiteDatabase(path: directory.path + "/\(UUID().uuidString).sqlite")
        case .postgres:
            let url = try PostgresURL(parsing: Self.postgresURL!)
            let schema = "t_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "")
            return try PostgresDatabase(url: url, schema: schema, maximumConnections: 4, logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }))
        }
    }
}

extension ServiceConfig {
    /// A development configuration for tests, with its own data directory and fixed secrets.
    public static func forTesting(
        _ service: ServiceName,
        dataDirectory: String,
        databaseURL: String? = nil,
        internalCallers: Set<ServiceName>? = nil,
        maximumBodyBytes: Int = 16 * 1024
    ) -> ServiceConfig {
        ServiceConfig(
            service: service,
            dataDirectory: dataDirectory,
            databaseURL: databaseURL,
            masterKey: Secret(Base64URL.encode([UInt8](repeating: 7, count: 32))),
            adminToken: Secret("test-admin-token-0123456789abcdefghijklmnop"),
            internalCallers: internalCallers,
            maximumBodyBytes: maximumBodyBytes,
            logLevel: .warning
        )
    }
}

/// A resolver with fixed keys: in-process tests need no network to authenticate callers.
public struct StaticKeyResolver: ServiceKeyResolver {
    public let keys: [ServiceName: [String: VerificationKey]]

    public init(_ keys: [ServiceName: [VerificationKey]]) {
        self.keys = keys.mapValues { Dictionary(uniqueKeysWithValues: $0.map { ($0.kid, $0) }) }
    }

    public func keys(for caller: ServiceName, refresh: Bool) async throws -> [String: VerificationKey] {
        keys[caller] ?? [:]
    }
}

/// Service tokens made by hand, including every way they can be wrong.
public struct ServiceTokenForge: Sendable {
    public let key: SigningKey

    public init(key: SigningKey) { self.key = key }

    public static func make() async throws -> ServiceTokenForge { ServiceTokenForge(key: try await SigningKey.generate(.es256)) }

    public func token(
        from caller: ServiceName,
        to audience: ServiceName,
        now: Int64,
        lifetime: Int64 = 30,
        issuedAt: Int64? = nil,
        jti: String = UUID().uuidString,
        type: String = ServiceToken.type
    ) async throws -> String {
        let iat = issuedAt ?? now
        return try await key.sign(ServiceTokenClaims(iss: caller.rawValue, aud: audience.rawValue, iat: iat, exp: iat + lifetime, jti: jti), type: type)
    }
}

/// A TCP port on 127.0.0.1 that was free a moment ago, below the kernel's ephemeral range, and
/// not handed out before by this process.
///
/// A port from `bind(port: 0)` comes from the ephemeral range, where every outgoing connection
/// also takes its local port: between the pick and the service's own bind, one of the tests'
/// connections can take it and the service fails to start (EADDRINUSE). Ports below the range
/// are never given to outgoing connections. Tests run in parallel in one process, hence the set
/// of ports already handed out. (`Tests/interop/ports.py` does the same for the Python tests.)
public func freeLoopbackPort() throws -> Int {
    let (low, _) = ephemeralPortRange()
    if low - 1 - 10_000 >= 1_000 {
        for _ in 0..<500 {
            let port = Int.random(in: 10_000...(low - 1))
            if bindLoopback(port) != nil, handedOutPorts.withLock({ $0.insert(port).inserted }) { return port }
        }
    }
    // No room below the ephemeral range on this kernel: take its choice.
    for _ in 0..<100 {
        guard let port = bindLoopback(0) else { break }
        if handedOutPorts.withLock({ $0.insert(port).inserted }) { return port }
    }
    throw ConfigError("no free port")
}

private let handedOutPorts = Mutex<Set<Int>>([])

private func ephemeralPortRange() -> (Int, Int) {
    let text = (try? String(contentsOfFile: "/proc/sys/net/ipv4/ip_local_port_range", encoding: .utf8)) ?? ""
    let parts = text.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" }).compactMap { Int($0) }
    return parts.count == 2 ? (parts[0], parts[1]) : (32_768, 60_999)
}

/// Binds a socket to 127.0.0.1:`port` (0: the kernel picks) and closes it; the port it got, or
/// nil when the bind failed.
private func bindLoopback(_ port: Int) -> Int? {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = in_port_t(UInt16(port).bigEndian)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer -> Int32 in
            guard bind(fd, pointer, length) == 0 else { return -1 }
            return getsockname(fd, pointer, &length)
        }
    }
    guard bound == 0 else { return nil }
    return Int(UInt16(bigEndian: address.sin_port))
}

/// Where the built executables are: `NEOSEC_BIN_DIR`, or beside the test bundle.
public func builtExecutable(_ name: String) -> URL {
    if let directory = ProcessInfo.processInfo.environment["NEOSEC_BIN_DIR"], !directory.isEmpty {
        return URL(fileURLWithPath: directory).appendingPathComponent(name)
    }
    let me = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
    var directory = me.deletingLastPathComponent()
    while directory.path != "/" {
        let candidate = directory.appendingPathComponent(name)
        if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
        directory = directory.deletingLastPathComponent()
    }
    return URL(fileURLWithPath: name)
}

/// Whether something accepts TCP connections on 127.0.0.1:`port` right now.
public func isListening(_ port: Int) -> Bool {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = in_port_t(UInt16(port).bigEndian)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    return withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    } == 0
}
