import ArgumentParser
import AsyncHTTPClient
import Foundation
import NIOCore
import JOSE
import ServiceKit
import Storage
import Synchronization
import WireModels

/// `neosec up`: the whole suite on 127.0.0.1, one child process per service, until Ctrl-C.
struct Up: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Start all five services locally and stay in the foreground until Ctrl-C.")

    @Option(name: .customLong("data-dir"), help: "Where the SQLite stores and development secrets live.")
    var dataDirectory = "./.neosec"

    @Option(name: .customLong("postgres"), help: "Use PostgreSQL at this postgres:// URL instead of SQLite (default: NEOSEC_DATABASE_URL).")
    var postgresOption: String?

    @Option(help: "Seconds to wait for every service to report ready.")
    var readyTimeout = 60

    enum Profile: String, ExpressibleByArgument, CaseIterable {
        /// The five services (SPEC §2).
        case standard
        /// Plus the chained-authorization demo: a print service (a second `neosec-resource`,
        /// called by the first through token exchange) and a second Token Service (another issuer
        /// with its own database) that accepts the first one's JWT authorization grants.
        case full
    }

    @Option(help: "standard (the five services) or full (also the print service and a second issuer, for `neosec demo chain`).")
    var profile: Profile = .standard

    /// An extra instance of the full profile: which executable, where it listens, what it overrides.
    struct Extra: Sendable {
        var label: String
        var service: ServiceName
        var port: Int
        var environment: [String: String]
    }

    static let defaultPrintPort = 9005
    static let defaultIssuerBPort = 9010

    func run() async throws {
        let environment = ProcessInfo.processInfo.environment
        let postgresURL = postgresOption ?? environment["NEOSEC_DATABASE_URL"].flatMap { $0.isEmpty ? nil : $0 }
        let ports = ServiceName.allCases.map { service in
            (service, Int(environment["NEOSEC_\(service.shortName.uppercased())_PORT"] ?? "") ?? service.defaultPort)
        }
        for (service, port) in ports where !PortProbe.isFree(port) {
            FileHandle.standardError.write(Data("neosec up: port \(port) (\(service.title)) is already in use on 127.0.0.1; stop whatever holds it or set NEOSEC_\(service.shortName.uppercased())_PORT.\n".utf8))
            throw ExitCode(2)
        }
        let printPort = Int(environment["NEOSEC_PRINT_PORT"] ?? "") ?? Self.defaultPrintPort
        let issuerBPort = Int(environment["NEOSEC_ISSUER_B_PORT"] ?? "") ?? Self.defaultIssuerBPort
        if profile == .full {
            for (name, port) in [("NEOSEC_PRINT_PORT", printPort), ("NEOSEC_ISSUER_B_PORT", issuerBPort)] where !PortProbe.isFree(port) {
                FileHandle.standardError.write(Data("neosec up: port \(port) is already in use on 127.0.0.1; set \(name).\n".utf8))
                throw ExitCode(2)
            }
        }
        if let postgresURL {
            do { _ = try PostgresURL(parsing: postgresURL) } catch { throw ValidationError("\(error)") }
        }

        try FileManager.default.createDirectory(atPath: dataDirectory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let absoluteData = URL(fileURLWithPath: dataDirectory).standardizedFileURL.path
        // Resolve the shared secrets once so that every child uses the same ones.
        var childEnvironment = environment
        childEnvironment["NEOSEC_DATA_DIR"] = absoluteData
        childEnvironment["NEOSEC_SUPERVISED"] = "1"
        if let postgresURL { childEnvironment["NEOSEC_DATABASE_URL"] = postgresURL }
        let adminToken: Secret
        if let configured = environment["NEOSEC_ADMIN_TOKEN"], !configured.isEmpty {
            adminToken = Secret(configured)
        } else {
            adminToken = try Secret.loadOrCreate(
                path: absoluteData + "/admin.token",
                generate: { "neo_adm_" + RandomToken.make(bytes: 32) },
                validate: { $0.utf8.count >= ServiceConfig.minimumAdminTokenLength }
            )
        }
        var masterKey = environment["NEOSEC_MASTER_KEY"].map(Secret.init)
        if environment["NEOSEC_MASTER_KEY"]?.isEmpty ?? true {
            masterKey = try Secret.loadOrCreate(
                path: absoluteData + "/master.key",
                generate: { RandomToken.make(bytes: 32) },
                validate: { (Base64URL.decode($0)?.count ?? 0) >= ServiceConfig.minimumMasterKeyBytes }
            )
        }

        let supervisor = Supervisor()
        let executable = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        var extras: [Extra] = []
        if profile == .full {
            childEnvironment["NEOSEC_RESOURCE_PRINT_URL"] = "http://127.0.0.1:\(printPort)"
            // The second issuer has its own data directory and SQLite database, and the suite's secrets.
            var shared = childEnvironment
            shared["NEOSEC_RESOURCE_PRINT_URL"] = nil
            shared["NEOSEC_DATABASE_URL"] = nil
            shared["NEOSEC_ADMIN_TOKEN"] = adminToken.value
            shared["NEOSEC_MASTER_KEY"] = masterKey?.value
            // The print service is another instance of the resource server (same identity, same
            // store: it signs its internal calls with the resource server's keys), with its own
            // base URL — its audience — and no downstream of its own.
            var print = childEnvironment
            print["NEOSEC_RESOURCE_PRINT_URL"] = nil
            print["NEOSEC_RESOURCE_PORT"] = String(printPort)
            print["NEOSEC_RESOURCE_URL"] = "http://127.0.0.1:\(printPort)"
            var issuerB = shared
            issuerB["NEOSEC_DATA_DIR"] = absoluteData + "/issuer-b"
            issuerB["NEOSEC_TOKEN_PORT"] = String(issuerBPort)
            issuerB["NEOSEC_TOKEN_URL"] = "http://127.0.0.1:\(issuerBPort)"
            issuerB["NEOSEC_ISSUER"] = "http://127.0.0.1:\(issuerBPort)"
            try FileManager.default.createDirectory(atPath: absoluteData + "/issuer-b", withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            extras = [
                Extra(label: "print service", service: .resource, port: printPort, environment: print),
                Extra(label: "second issuer (B)", service: .token, port: issuerBPort, environment: issuerB),
            ]
        }
        say("NeoSec: starting \(ServiceName.allCases.count + extras.count) services (data: \(absoluteData), store: \(postgresURL == nil ? "SQLite" : "PostgreSQL"))")
        for service in ServiceName.allCases {
            try supervisor.start(service: service, label: service.rawValue, executable: executable, environment: childEnvironment)
        }

        SignalWatcher.watch([SIGINT, SIGTERM]) { supervisor.post(.signal) }
        let started = extras
        let timeout = readyTimeout
        let readiness = Task { [ports] in
            var ready = (try? await Self.waitUntilReady(ports: ports.map(\.1), timeout: timeout)) ?? false
            // The extra instances start once the five are up: the print service shares the
            // resource server's store, and so its internal-call keys, which must exist first.
            if ready && !started.isEmpty {
                do {
                    for extra in started {
                        try supervisor.start(service: extra.service, label: extra.label, executable: executable, environment: extra.environment)
                    }
                    ready = try await Self.waitUntilReady(ports: started.map(\.port), timeout: timeout)
                } catch {
                    ready = false
                }
            }
            supervisor.post(ready ? .ready : .notReady)
        }
        // One event loop for everything that can happen: readiness, Ctrl-C, a child dying.
        // Nothing is restarted silently: a child that exits takes the suite down, loudly.
        for await event in supervisor.events {
            switch event {
            case .ready:
                let tokenPort = ports.first { $0.0 == .token }!.1
                let fixtures: [DemoFixtures.Client]
                do {
                    let port = { (service: ServiceName) in ports.first { $0.0 == service }!.1 }
                    fixtures = try await DemoFixtures.seedIfNeeded(
                        urls: DemoFixtures.URLs(
                            token: "http://127.0.0.1:\(tokenPort)", authn: "http://127.0.0.1:\(port(.authn))", uma: "http://127.0.0.1:\(port(.uma))",
                            resource: "http://127.0.0.1:\(port(.resource))", print: "http://127.0.0.1:\(printPort)"
                        ),
                        adminToken: adminToken, dataDirectory: absoluteData
                    )
                } catch {
                    FileHandle.standardError.write(Data("neosec up: seeding the demo fixtures failed (\(error)); stopping.\n".utf8))
                    supervisor.stopAll()
                    throw ExitCode(1)
                }
                printBanner(ports: ports, extras: extras, adminToken: adminToken, dataDirectory: absoluteData, fixtures: fixtures)
                continue
            case .notReady:
                readiness.cancel()
                FileHandle.standardError.write(Data("neosec up: not every service became ready within \(readyTimeout) s; stopping.\n".utf8))
                supervisor.stopAll()
                throw ExitCode(1)
            case .childExited(let label, let status):
                readiness.cancel()
                FileHandle.standardError.write(Data("neosec up: \(label) exited unexpectedly (status \(status)); stopping the others.\n".utf8))
                supervisor.stopAll()
                throw ExitCode(1)
            case .signal:
                readiness.cancel()
            }
            break
        }
        say("\nNeoSec: stopping…")
        supervisor.stopAll()
        say("NeoSec: all services stopped.")
    }

    static func waitUntilReady(ports: [Int], timeout: Int) async throws -> Bool {
        let deadline = ContinuousClock.now + .seconds(timeout)
        var pending = Set(ports)
        while ContinuousClock.now < deadline {
            for port in pending {
                var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)/health/ready")
                request.method = .GET
                if let response = try? await HTTPClient.shared.execute(request, timeout: .seconds(2)), response.status == .ok {
                    pending.remove(port)
                }
            }
            if pending.isEmpty { return true }
            try await Task.sleep(for: .milliseconds(200))
        }
        return false
    }

    func printBanner(ports: [(ServiceName, Int)], extras: [Extra], adminToken: Secret, dataDirectory: String, fixtures: [DemoFixtures.Client]) {
        var lines = ["", "NeoSec is up. Services:"]
        for (service, port) in ports {
            lines.append("  \(service.title.padding(toLength: 28, withPad: " ", startingAt: 0)) http://127.0.0.1:\(port)   (\(service.rawValue))")
        }
        for extra in extras {
            lines.append("  \(extra.label.padding(toLength: 28, withPad: " ", startingAt: 0)) http://127.0.0.1:\(extra.port)   (\(extra.service.rawValue), profile full)")
        }
        lines += [
            "",
            "  Issuer:          http://127.0.0.1:\(ports.first { $0.0 == .token }!.1)",
            "  Token JWKS:      http://127.0.0.1:\(ports.first { $0.0 == .token }!.1)/.well-known/jwks.json",
            "  Admin token:     \(adminToken.value)",
            "                   (NEOSEC_ADMIN_TOKEN; kept in \(dataDirectory)/admin.token)",
            "",
            "Demo clients (kept in \(dataDirectory)/fixtures.json):",
        ]
        for client in fixtures {
            lines.append("  \(client.description.padding(toLength: 28, withPad: " ", startingAt: 0)) client_id=\(client.clientID)  client_secret=\(client.clientSecret ?? "(none)")")
        }
        lines += [
            "",
            "Demo users: alice / alice-demo-password, bob / bob-demo-password",
            "  Sign in: http://127.0.0.1:\(ports.first { $0.0 == .authn }!.1)/login",
            "",
            "Press Ctrl-C to stop every service.",
        ]
        say(lines.joined(separator: "\n"))
    }
}

/// Starts, watches and stops the child processes.
final class Supervisor: Sendable {
    enum Event: Sendable {
        case ready, notReady, signal
        case childExited(String, Int32)
    }

    private let children = Mutex<[(String, Process)]>([])
    private let stream = AsyncStream<Event>.makeStream()
    private let stopping = Atomic<Bool>(false)

    var events: AsyncStream<Event> { stream.stream }

    func post(_ event: Event) { stream.continuation.yield(event) }

    func start(service: ServiceName, label: String, executable: URL, environment: [String: String]) throws {
        let process = Process()
        process.executableURL = executable
        process.arguments = ["serve", service.shortName]
        process.environment = environment
        process.terminationHandler = { [self] process in
            if !self.stopping.load(ordering: .relaxed) {
                self.post(.childExited(label, process.terminationStatus))
            }
        }
        try process.run()
        children.withLock { $0.append((label, process)) }
    }

    /// SIGTERM to every child, then up to 10 s for them to finish, then SIGKILL for any left.
    func stopAll() {
        stopping.store(true, ordering: .relaxed)
        let processes = children.withLock { $0 }
        for (_, process) in processes where process.isRunning {
            kill(process.processIdentifier, SIGTERM)
        }
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline && processes.contains(where: { $0.1.isRunning }) {
            usleep(50_000)
        }
        for (label, process) in processes where process.isRunning {
            FileHandle.standardError.write(Data("neosec up: \(label) did not stop within 10 s; killing it.\n".utf8))
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }
}

/// Calls `handler` on SIGINT/SIGTERM instead of dying.
enum SignalWatcher {
    static func watch(_ signals: [Int32], handler: @escaping @Sendable () -> Void) {
        for number in signals {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { handler() }
            source.resume()
            // Written once at start-up, from the main task only; kept so the sources stay alive.
            retained.append(source)
        }
    }

    nonisolated(unsafe) static var retained: [any DispatchSourceSignal] = []
}

/// Whether a TCP port on 127.0.0.1 can be bound right now.
enum PortProbe {
    static func isFree(_ port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var reuse: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &reuse, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        return result == 0
    }
}

/// Writes a line to standard output at once (unbuffered even when redirected to a file or pipe,
/// so that whoever watches `neosec up` sees each line as it happens).
func say(_ text: String) {
    FileHandle.standardOutput.write(Data((text + "\n").utf8))
}
