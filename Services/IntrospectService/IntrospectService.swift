public import Hummingbird
public import ServiceKit
public import Storage
public import WireModels

/// Introspection Service: RFC 7662 introspection and phantom-token exchange.
///
/// The service runs on the shared kit (health, readiness, metrics, internal-call keys at
/// `/internal/jwks.json`, error mapping, limits and security headers); its protocol endpoints
/// are added by their own issues.
public struct IntrospectService: NeoSecService {
    public static let name = ServiceName.introspect
    public static let migrations: [Migration] = []

    public init(environment: ServiceEnvironment) async throws {}

    public func addRoutes(to router: Router<NeoSecRequestContext>, environment: ServiceEnvironment) {}
}
