public import AsyncHTTPClient
public import Foundation
import HTTPTypes
import HummingbirdCore
import HummingbirdTLS
public import Hummingbird
public import JOSE
public import Logging
import Metrics
import NIOCore
import NIOPosix
import Prometheus
import ServiceLifecycle
import Synchronization
public import Storage
public import WireModels

/// Overrides for tests: a fixed clock, a key resolver that does not use the network, a log sink.
public struct RuntimeOptions: Sendable {
    public var time: any TimeSource
    public var keyResolver: (any ServiceKeyResolver)?
    public var logSink: LogSink

    public init(time: any TimeSource = SystemTime(), keyResolver: (any ServiceKeyResolver)? = nil, logSink: LogSink = .standardError) {
        self.time = time
        self.keyResolver = keyResolver
        self.logSink = logSink
    }
}

/// Builds and runs a service: storage, migrations, keys, middleware, kit routes, the service's
/// routes, and graceful shutdown on SIGTERM/SIGINT.
public enum ServiceRuntime {
    /// The process-wide Prometheus registry. swift-metrics has one global backend per process,
    /// bootstrapped on first use.
    static let metricsRegistry: PrometheusCollectorRegistry = {
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
        return registry
    }()

    /// Kit tables every service has.
    public static let kitMigrations: [Migration] = SQLKeyStore.migrations + SQLReplayStore.migrations

    /// Opens the store of `owner` as the configuration says.
    public static func openDatabase(owner: String, config: ServiceConfig, readOnly: Bool = false, logger: Logger) throws -> any SQLDatabase {
        switch try StoreLocation.resolve(owner: owner, dataDirectory: config.dataDirectory, databaseURL: config.databaseURL) {
        case .sqlite(let path): return try SQLiteDatabase(path: path, readOnly: readOnly)
        case .postgres(let url): return try PostgresDatabase(url: url, schema: "neosec_\(owner)", readOnly: readOnly, logger: logger)
        }
    }

    public static func makeLogger(_ service: ServiceName, config: ServiceConfig, sink: LogSink) -> Logger {
        Logger(label: service.rawValue) { label in JSONLogHandler(label: label, level: config.logLevel, sink: sink) }
    }

    /// Prepares the environment of `S`: opens and migrates its store, loads its keys.
    public static func makeEnvironment<S: NeoSecService>(_ type: S.Type, config: ServiceConfig, options: RuntimeOptions) async throws -> ServiceEnvironment {
        let logger = makeLogger(S.name, config: config, sink: options.logSink)
        let database = try openDatabase(owner: S.name.shortName, config: config, logger: logger)
        try await database.migrate(kitMigrations + S.migrations)
        guard let masterKey = Base64URL.decode(config.masterKey.value) else { throw ConfigError("NEOSEC_MASTER_KEY is not base64url") }
        let sealer = try KeySealer(masterKey: Array(masterKey))
        let internalKeys = KeyRing(
            purpose: ServiceToken.keyPurpose,
            algorithms: [.es256],
            store: SQLKeyStore(database),
            sealer: sealer,
            time: options.time,
            retention: ServiceToken.maximumLifetime * 10
        )
        try await internalKeys.bootstrap()
        let replay = SQLReplayStore(database)
        let httpClient = try TLSSetup.httpClient(trusting: config.tlsTrustPath)
        let resolver = options.keyResolver ?? HTTPServiceKeyResolver(peers: config.serviceURLs, client: httpClient, time: options.time)
        let verifier = ServiceTokenVerifier(
            service: S.name,
            allowedCallers: config.internalCallers,
            resolver: resolver,
            replay: replay,
            time: options.time
        )
        let issuer = ServiceTokenIssuer(caller: S.name, keys: internalKeys, time: options.time)
        return ServiceEnvironment(
            config: config,
            logger: logger,
            time: options.time,
            database: database,
            replay: replay,
            sealer: sealer,
            internalKeys: internalKeys,
            serviceTokens: verifier,
            internalClient: InternalClient(issuer: issuer, peers: config.serviceURLs, client: httpClient),
            httpClient: httpClient
        )
    }

    /// The router of `service`: middleware, kit routes, then the service's routes.
    public static func makeRouter(service: some NeoSecService, environment: ServiceEnvironment) -> Router<NeoSecRequestContext> {
        let config = environment.config
        let router = Router(context: NeoSecRequestContext.self)
        _ = metricsRegistry
        router.add(middleware: RequestLogMiddleware())
        router.add(middleware: SecurityHeadersMiddleware(strictTransportSecurity: config.baseURL.scheme == "https"))
        router.add(middleware: ErrorMappingMiddleware())
        router.add(middleware: MetricsMiddleware())
        router.add(middleware: RequestLimitsMiddleware(maximumBodyBytes: config.maximumBodyBytes))

        let checks: [ReadinessCheck] =
            [
                ReadinessCheck(name: "storage") { try await environment.database.ping() },
                ReadinessCheck(name: "internal_keys") {
                    guard environment.internalKeys.isReady else { throw JOSEError.unknownKeyID }
                },
            ] + service.readinessChecks
        let serviceName = config.service.rawValue

        // Constant per process: encoded once (orchestrators probe this often).
        var live = JSONObjectWriter(capacity: 64)
        live.field("service", serviceName)
        live.field("status", "live")
        let liveBody = ByteBuffer(bytes: live.finish())
        router.get("/health/live") { _, _ in
            Response.json(encoded: liveBody)
        }
        router.get("/health/ready") { _, context in
            var results: [String: String] = [:]
            var ready = true
            for check in checks {
                do {
                    try await check.probe()
                    results[check.name] = "ok"
                } catch {
                    ready = false
                    results[check.name] = "failing"
                    context.logger.warning("readiness check failing", metadata: ["check": .string(check.name)])
                }
            }
            return try Response.json(
                ReadinessReport(status: ready ? "ready" : "not_ready", service: serviceName, checks: results),
                status: ready ? .ok : .serviceUnavailable
            )
        }
        router.get("/metrics") { _, _ in
            var buffer: [UInt8] = []
            metricsRegistry.emit(into: &buffer)
            return Response(
                status: .ok,
                headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8", .cacheControl: "no-store"],
                body: ResponseBody(byteBuffer: ByteBuffer(bytes: buffer))
            )
        }
        router.get("/internal/jwks.json") { _, _ in
            try Response.json(environment.internalKeys.jwks, cacheControl: "public, max-age=60")
        }
        service.addRoutes(to: router, environment: environment)
        return router
    }

    /// Builds the application of `S`, ready to run or to test.
    public static func buildApplication<S: NeoSecService>(
        _ type: S.Type,
        config: ServiceConfig,
        options: RuntimeOptions = RuntimeOptions()
    ) async throws -> (application: some ApplicationProtocol, environment: ServiceEnvironment) {
        let environment = try await makeEnvironment(S.self, config: config, options: options)
        let service = try await S(environment: environment)
        let router = makeRouter(service: service, environment: environment)
        let background: [any Service] = service.backgroundTasks.map { PeriodicService(task: $0, logger: environment.logger) }
        let http1: HTTPServerBuilder = .http1(
            configuration: .init(
                idleTimeout: .seconds(75),
                httpDecoderConfiguration: .init(maxHeaderFieldSize: 8 * 1024, maxHeaderListSize: 32 * 1024, maxHeaderFieldCount: 100)
            )
        )
        let server = try config.tls.map { try HTTPServerBuilder.tls(http1, tlsConfiguration: try TLSSetup.serverConfiguration($0)) } ?? http1
        TLSSetup.clientCertificatesEnabled.store(config.tls?.clientCAPath != nil, ordering: .relaxed)
        let application = Application(
            router: router,
            server: server,
            configuration: ApplicationConfiguration(address: .hostname(config.host, port: config.port), serverName: nil),
            services: background,
            logger: environment.logger
        )
        return (application, environment)
    }

    /// Loads the configuration of `S` from the environment and runs it until SIGTERM/SIGINT.
    ///
    /// - Parameter supervised: started by `neosec up`. Ctrl-C reaches the whole process group,
    ///   but a supervised child leaves SIGINT to its supervisor and stops on the SIGTERM it sends,
    ///   so that the supervisor can tell a clean stop from a crash.
    public static func main<S: NeoSecService>(_ type: S.Type, supervised: Bool = false) async {
        if supervised { signal(SIGINT, SIG_IGN) }
        guard executorChoice != nil else {
            FileHandle.standardError.write(Data("\(S.name.rawValue): configuration error: NEOSEC_EXECUTOR must be swift or nio\n".utf8))
            exit(78)  // EX_CONFIG
        }
        installExecutor()
        let config: ServiceConfig
        do {
            config = try await ServiceConfig.load(service: S.name)
        } catch {
            FileHandle.standardError.write(Data("\(S.name.rawValue): configuration error: \(error)\n".utf8))
            exit(78)  // EX_CONFIG
        }
        do {
            let (application, environment) = try await buildApplication(S.self, config: config)
            environment.logger.info(
                "starting",
                metadata: ["address": .string("\(config.host):\(config.port)"), "mode": .string(config.mode.rawValue), "store": .string(environment.database.dialect.rawValue)]
            )
            try await application.runService(gracefulShutdownSignals: supervised ? [.sigterm] : [.sigterm, .sigint])
            try await environment.database.close()
            environment.logger.info("stopped")
        } catch {
            // The address helps most when the port is taken (EADDRINUSE is an `IOError` from bind).
            FileHandle.standardError.write(Data("\(S.name.rawValue): failed (listening on \(config.host):\(config.port)): \(Self.safeDescription(error))\n".utf8))
            exit(1)
        }
    }

    /// `NEOSEC_EXECUTOR`: `swift` (default) keeps Swift concurrency's cooperative pool; `nio`
    /// runs the global executor on SwiftNIO's event loops
    /// (`unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor`), so a
    /// handler continues on the thread that read its request instead of hopping to the pool and
    /// back. Measured in docs/benchmarks.md; it relies on a runtime hook, hence opt-in. Request
    /// paths do not block in async code (password hashing runs on NIO's thread pool, SQLite on
    /// GRDB's queues), which that mode requires. Any other value is a configuration error.
    static let executorChoice: String? = {
        let choice = ProcessInfo.processInfo.environment["NEOSEC_EXECUTOR"] ?? "swift"
        return ["swift", "nio"].contains(choice) ? choice : nil
    }()

    static func installExecutor() {
        guard executorChoice == "nio", !executorInstalled.exchange(true, ordering: .relaxed) else { return }
        _ = NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor()
    }

    /// NIO's installation may run once per process (a second call is fatal).
    private static let executorInstalled = Atomic<Bool>(false)

    /// Describes start-up failures without leaking: our own error types print fixed text;
    /// anything else prints its type only.
    static func safeDescription(_ error: any Error) -> String {
        switch error {
        case let error as ConfigError: error.description
        case let error as StorageError: error.description
        case let error as JOSEError: error.description
        case let error as IOError: error.description  // a system call and its errno, no data
        default: String(reflecting: type(of: error))
        }
    }
}

/// Runs a `BackgroundTask` under swift-service-lifecycle: ticks until graceful shutdown.
struct PeriodicService: Service {
    let task: BackgroundTask
    let logger: Logger

    func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    try await Task.sleep(for: task.interval)
                } catch {
                    return
                }
                do {
                    try await task.work()
                } catch {
                    logger.warning("background task failed", metadata: ["task": .string(task.name), "error_type": .string(String(reflecting: type(of: error)))])
                }
            }
        }
    }
}
