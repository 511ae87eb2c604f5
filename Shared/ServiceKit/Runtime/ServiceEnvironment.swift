public import AsyncHTTPClient
public import Foundation
public import JOSE
public import Logging
public import Storage
public import WireModels

/// What the kit hands every service: configuration, clock, logger, storage, internal-call keys,
/// and an authenticated client for calling the other services.
public struct ServiceEnvironment: Sendable {
    public let config: ServiceConfig
    public let logger: Logger
    public let time: any TimeSource
    public let database: any SQLDatabase
    public let replay: any ReplayStore
    public let sealer: KeySealer
    /// This service's own internal-call signing keys (published at `/internal/jwks.json`).
    public let internalKeys: KeyRing
    public let serviceTokens: ServiceTokenVerifier
    public let internalClient: InternalClient
    public let httpClient: HTTPClient
}

/// A readiness check: a name and a probe that must return without throwing.
public struct ReadinessCheck: Sendable {
    public let name: String
    public let probe: @Sendable () async throws -> Void

    public init(name: String, probe: @escaping @Sendable () async throws -> Void) {
        self.name = name
        self.probe = probe
    }
}

/// One NeoSec service: its tables, its routes, its readiness. The kit does the rest.
public protocol NeoSecService: Sendable {
    static var name: ServiceName { get }
    /// Schema of the tables this service owns, beyond the kit's own.
    static var migrations: [Migration] { get }

    init(environment: ServiceEnvironment) async throws

    /// Registers the service's endpoints. Kit routes (health, metrics, internal JWKS) are
    /// already there.
    func addRoutes(to router: Router<NeoSecRequestContext>, environment: ServiceEnvironment)

    /// Checks beyond "storage answers and internal keys are loaded".
    var readinessChecks: [ReadinessCheck] { get }

    /// Background work (purging expired state …), run for the application's lifetime and
    /// stopped with it.
    var backgroundTasks: [BackgroundTask] { get }
}

extension NeoSecService {
    public var readinessChecks: [ReadinessCheck] { [] }
    public var backgroundTasks: [BackgroundTask] { [] }
}

/// A periodic background job: `work` runs every `interval` until the service stops. A failing
/// run is logged (its error type only) and retried at the next tick.
public struct BackgroundTask: Sendable {
    public let name: String
    public let interval: Duration
    public let work: @Sendable () async throws -> Void

    public init(name: String, interval: Duration, work: @escaping @Sendable () async throws -> Void) {
        self.name = name
        self.interval = interval
        self.work = work
    }
}

public import Hummingbird
