public import Hummingbird
public import ServiceKit
public import Storage
public import WireModels
import JOSE

/// The UMA 2.0 authorization server's own part (UMA 2.0 Federated Authorization): the
/// protection API for resource servers (resource registration, permission tickets), owners'
/// policies, and the policy evaluation the Token Service asks for when a client presents a
/// ticket with the UMA grant. RPTs themselves are minted by the Token Service.
public struct UMAService: NeoSecService {
    public static let name = ServiceName.uma
    public static let migrations: [Migration] = SQLUMAStore.migrations
    static let realm = "neosec-uma"

    let store: any UMAStore
    let time: any TimeSource

    public init(environment: ServiceEnvironment) async throws {
        store = SQLUMAStore(environment.database)
        time = environment.time
    }

    /// Expired tickets, PCTs and grants go once a minute.
    public var backgroundTasks: [BackgroundTask] {
        let (store, time) = (self.store, self.time)
        return [
            BackgroundTask(name: "purge_expired", interval: .seconds(60)) {
                _ = try await store.purgeExpired(now: time.epochSeconds)
            }
        ]
    }

    static func baseURL(_ config: ServiceConfig) -> String {
        let text = config.baseURL.absoluteString
        return text.hasSuffix("/") ? String(text.dropLast()) : text
    }

    public func addRoutes(to router: Router<NeoSecRequestContext>, environment: ServiceEnvironment) {
        let config = environment.config
        let base = Self.baseURL(config)
        let issuer = config.issuer.absoluteString.hasSuffix("/") ? String(config.issuer.absoluteString.dropLast()) : config.issuer.absoluteString
        let authenticator = AccessTokenVerifier(environment: environment, audience: base, realm: Self.realm)
        let authority = UMAAuthority(store: store, issuer: issuer, time: environment.time)
        ProtectionAPI(authenticator: authenticator, authority: authority, store: store, time: environment.time, bodyLimit: config.maximumBodyBytes, baseURL: base)
            .register(on: router)
        let policies = PolicyAPI(
            authenticator: authenticator, authority: authority, store: store, internalClient: environment.internalClient, time: environment.time,
            bodyLimit: config.maximumBodyBytes
        )
        policies.register(on: router)
        let internalRoutes = router.group("/internal").add(middleware: InternalAuthMiddleware(verifier: environment.serviceTokens))
        UMAInternalEndpoints(authority: authority, policies: policies, limit: config.maximumBodyBytes).register(on: internalRoutes)
    }
}
