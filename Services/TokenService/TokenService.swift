public import Hummingbird
public import JOSE
public import ServiceKit
public import Storage
public import WireModels

/// The Token Service: OAuth 2.0 Authorization Server and OpenID Provider. It owns the token
/// store and the token-signing keys.
public struct TokenService: NeoSecService {
    public static let name = ServiceName.token
    public static let migrations: [Migration] = SQLSubjectRevocationStore.migrations

    /// Token-signing key purpose; distinct from the internal-call keys of every service.
    public static let tokenKeyPurpose = "token"
    /// RS256 is the OpenID Connect default (Core §15.1); ES256 and EdDSA when a client registers them.
    public static let tokenAlgorithms: [SigningAlgorithm] = [.rs256, .es256, .edDSA]

    public let tokenKeys: KeyRing
    public let subjectRevocations: any SubjectRevocationStore

    public init(environment: ServiceEnvironment) async throws {
        tokenKeys = KeyRing(
            purpose: Self.tokenKeyPurpose,
            algorithms: Self.tokenAlgorithms,
            store: SQLKeyStore(environment.database),
            sealer: environment.sealer,
            time: environment.time,
            retention: environment.config.keyRetentionSeconds
        )
        try await tokenKeys.bootstrap()
        subjectRevocations = SQLSubjectRevocationStore(environment.database)
    }

    public var readinessChecks: [ReadinessCheck] {
        let keys = tokenKeys
        return [
            ReadinessCheck(name: "token_keys") {
                guard keys.isReady else { throw JOSEError.unknownKeyID }
            }
        ]
    }

    public func addRoutes(to router: Router<NeoSecRequestContext>, environment: ServiceEnvironment) {
        JWKSEndpoint(keys: tokenKeys).register(on: router)
        AdminKeysEndpoint(keys: tokenKeys).register(on: router.group("/admin").add(middleware: AdminAuthMiddleware(adminToken: environment.config.adminToken, realm: "neosec-admin")))
        SubjectRevocationEndpoint(store: subjectRevocations, time: environment.time, limit: environment.config.maximumBodyBytes)
            .register(on: router.group("/internal").add(middleware: InternalAuthMiddleware(verifier: environment.serviceTokens)))
    }
}
