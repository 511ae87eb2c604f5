public import Hummingbird
public import JOSE
public import ServiceKit
public import Storage
public import WireModels

/// The Token Service: OAuth 2.0 Authorization Server and OpenID Provider. It owns the token
/// store and the token-signing keys.
public struct TokenService: NeoSecService {
    public static let name = ServiceName.token
    public static let migrations: [Migration] = SQLSubjectRevocationStore.migrations + SQLClientStore.migrations + SQLTokenStore.migrations

    /// Token-signing key purpose; distinct from the internal-call keys of every service.
    public static let tokenKeyPurpose = "token"
    /// RS256 is the OpenID Connect default (Core §15.1); ES256 and EdDSA when a client registers them.
    public static let tokenAlgorithms: [SigningAlgorithm] = [.rs256, .es256, .edDSA]

    public let tokenKeys: KeyRing
    public let subjectRevocations: any SubjectRevocationStore
    let clients: ClientRegistry
    let tokens: any TokenStore

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
        clients = ClientRegistry(store: SQLClientStore(environment.database), time: environment.time)
        tokens = SQLTokenStore(environment.database)
    }

    /// The token endpoint URL (an accepted `aud` of client assertions, RFC 7523 §3).
    static func tokenEndpointURL(_ config: ServiceConfig) -> String {
        config.issuer.absoluteString.trimmingSuffix("/") + TokenEndpoint.path
    }

    func grantHandlers(_ environment: ServiceEnvironment) -> [String: any GrantHandler] {
        let accessTokens = AccessTokenIssuer(issuer: environment.config.issuer.absoluteString.trimmingSuffix("/"), keys: tokenKeys, tokens: tokens, time: environment.time)
        let handlers: [any GrantHandler] = [
            ClientCredentialsGrant(accessTokens: accessTokens)
        ]
        return Dictionary(uniqueKeysWithValues: handlers.map { ($0.grantType, $0) })
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
        let config = environment.config
        JWKSEndpoint(keys: tokenKeys).register(on: router)
        let authenticator = ClientAuthenticator(
            registry: clients,
            replay: environment.replay,
            time: environment.time,
            audiences: [Self.tokenEndpointURL(config), config.issuer.absoluteString.trimmingSuffix("/"), config.issuer.absoluteString],
            realm: "neosec"
        )
        let handlers = grantHandlers(environment)
        TokenEndpoint(authenticator: authenticator, handlers: handlers, bodyLimit: config.maximumBodyBytes).register(on: router)
        RevocationEndpoint(authenticator: authenticator, tokens: tokens, keys: tokenKeys, time: environment.time, bodyLimit: config.maximumBodyBytes)
            .register(on: router)
        DiscoveryEndpoint(issuer: config.issuer.absoluteString.trimmingSuffix("/"), grantTypes: Array(handlers.keys)).register(on: router)
        let admin = router.group("/admin").add(middleware: AdminAuthMiddleware(adminToken: config.adminToken, realm: "neosec-admin"))
        AdminKeysEndpoint(keys: tokenKeys).register(on: admin)
        AdminClientsEndpoint(registry: clients, bodyLimit: config.maximumBodyBytes).register(on: admin)
        SubjectRevocationEndpoint(store: subjectRevocations, time: environment.time, limit: environment.config.maximumBodyBytes)
            .register(on: router.group("/internal").add(middleware: InternalAuthMiddleware(verifier: environment.serviceTokens)))
    }
}

extension String {
    func trimmingSuffix(_ suffix: String) -> String {
        hasSuffix(suffix) ? String(dropLast(suffix.count)) : self
    }
}
