public import Hummingbird
public import ServiceKit
public import Storage
public import WireModels

/// UMA 2.0 Authorization Server: resource registration, permission tickets and owner policies.
///
/// The service runs on the shared kit (health, readiness, metrics, internal-call keys at
/// `/internal/jwks.json`, error mapping, limits and security headers); its protocol endpoints
/// are added by their own issues.
public struct UMAService: NeoSecService {
    public static let name = ServiceName.uma
    public static let migrations: [Migration] = []

    public init(environment: ServiceEnvironment) async throws {}

    public func addRoutes(to router: Router<NeoSecRequestContext>, environment: ServiceEnvironment) {}
}
