public import Hummingbird
public import ServiceKit
public import Storage
public import WireModels

/// Demo Resource Server: a small API protected by NeoSec tokens.
///
/// The service runs on the shared kit (health, readiness, metrics, internal-call keys at
/// `/internal/jwks.json`, error mapping, limits and security headers); its protocol endpoints
/// are added by their own issues.
public struct ResourceService: NeoSecService {
    public static let name = ServiceName.resource
    public static let migrations: [Migration] = []

    public init(environment: ServiceEnvironment) async throws {}

    public func addRoutes(to router: Router<NeoSecRequestContext>, environment: ServiceEnvironment) {}
}
