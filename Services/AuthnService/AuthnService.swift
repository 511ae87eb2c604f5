import Foundation
public import Hummingbird
import JOSE
import Mustache
public import ServiceKit
public import Storage
public import WireModels

/// Authentication Service: login, logout, consent, sessions, MFA, account page and federation.
///
/// The service runs on the shared kit (health, readiness, metrics, internal-call keys at
/// `/internal/jwks.json`, error mapping, limits and security headers). It owns the accounts, the
/// browser sessions and the sign-in throttle, and answers the Token Service's login, consent and
/// logout challenges (`AuthorizationFlowModels.swift`) with HTML pages.
public struct AuthnService: NeoSecService {
    public static let name = ServiceName.authn
    public static let migrations: [Migration] =
        SQLAccountStore.migrations + SQLSessionStore.migrations + SQLLoginThrottleStore.migrations + SQLMFAStore.migrations
        + SQLFederationStore.migrations

    /// scrypt cost setting: log2 N, from 14 (tests, small machines) to 20; 17 is the OWASP minimum.
    public static let scryptLogNVariable = "NEOSEC_AUTHN_SCRYPT_LOG_N"
    public static let defaultScryptLogN = 17
    /// How often expired sessions, pending second-factor sign-ins and stale throttle counters are deleted.
    static let purgeInterval: Duration = .seconds(600)

    let accounts: any AccountStore
    let sessions: any SessionStore
    let throttle: any LoginThrottleStore
    let mfa: any MFAStore
    let federation: any FederationStore
    /// Upstream OpenID Providers (`NEOSEC_AUTHN_UPSTREAMS`).
    let upstreams: [UpstreamProvider]
    let hasher: PasswordHasher
    let templates: MustacheLibrary
    let masterKey: [UInt8]
    let sealer: KeySealer
    let time: any TimeSource

    public init(environment: ServiceEnvironment) async throws {
        let variables = ProcessInfo.processInfo.environment
        try self.init(
            environment: environment, scryptLogN: Self.scryptLogN(from: variables),
            upstreams: try UpstreamProvider.parse(variables[Self.upstreamsVariable])
        )
    }

    /// JSON array of upstream OpenID Providers: `[{"id","name","issuer","client_id","client_secret"}]`. Secret.
    public static let upstreamsVariable = "NEOSEC_AUTHN_UPSTREAMS"

    /// - Parameter scryptLogN: log2 of the scrypt cost N (10...20); tests pass a low value.
    public init(environment: ServiceEnvironment, scryptLogN: Int) throws {
        try self.init(environment: environment, scryptLogN: scryptLogN, upstreams: [])
    }

    init(environment: ServiceEnvironment, scryptLogN: Int, upstreams: [UpstreamProvider]) throws {
        self.upstreams = upstreams
        guard (10...20).contains(scryptLogN) else { throw ConfigError("the scrypt cost (log2 N) must be between 10 and 20") }
        guard let masterKey = Base64URL.decode(environment.config.masterKey.value) else { throw ConfigError("NEOSEC_MASTER_KEY is not base64url") }
        self.masterKey = Array(masterKey)
        accounts = SQLAccountStore(environment.database)
        sessions = SQLSessionStore(environment.database)
        throttle = SQLLoginThrottleStore(environment.database)
        mfa = SQLMFAStore(environment.database)
        federation = SQLFederationStore(environment.database)
        sealer = environment.sealer
        hasher = PasswordHasher(logN: scryptLogN)
        templates = try Templates.makeLibrary()
        time = environment.time
    }

    /// `NEOSEC_AUTHN_SCRYPT_LOG_N`: unset means 17; anything outside 14...20 stops start-up.
    public static func scryptLogN(from environment: [String: String]) throws -> Int {
        guard let text = environment[scryptLogNVariable], !text.isEmpty else { return defaultScryptLogN }
        guard let value = Int(text), (14...20).contains(value) else { throw ConfigError("\(scryptLogNVariable) must be between 14 and 20") }
        return value
    }

    public var backgroundTasks: [BackgroundTask] {
        let sessions = sessions
        let throttle = throttle
        let mfa = mfa
        let federation = federation
        let time = time
        return [
            BackgroundTask(name: "authn-purge", interval: Self.purgeInterval) {
                let now = time.epochSeconds
                _ = try await sessions.purgeExpired(now: now)
                _ = try await mfa.purgeExpired(now: now)
                _ = try await federation.purgeExpired(now: now)
                _ = try await throttle.purgeStale(before: now - LoginThrottlePolicy.account.forgetAfter)
            }
        ]
    }

    public func addRoutes(to router: Router<NeoSecRequestContext>, environment: ServiceEnvironment) {
        let config = environment.config
        let secureCookies = config.baseURL.scheme?.lowercased() == "https"
        let pages = PageRenderer(
            library: templates,
            contentSecurityPolicy: HTMLResponse.contentSecurityPolicy,
            basePath: Self.basePath(config.baseURL),
            providers: upstreams.map { ProviderView(id: $0.id, name: $0.name) }
        )
        let web = AuthnWeb(
            pages: pages,
            csrf: CSRFProtection(masterKey: masterKey, secureCookies: secureCookies, pages: pages),
            sessions: SessionManager(store: sessions, accounts: accounts, time: environment.time, secureCookies: secureCookies),
            pendingSignIns: PendingSignInManager(
                store: mfa, time: environment.time, secureCookies: secureCookies, cookiePath: pages.path(LoginEndpoint.path)
            ),
            challenges: ChallengeClient(client: environment.internalClient, pages: pages),
            bodyLimit: config.maximumBodyBytes
        )
        let secondFactor = SecondFactor(store: mfa, sealer: sealer, time: environment.time)
        let passwordCheck = CurrentPasswordCheck(throttle: throttle, hasher: hasher, time: environment.time)
        let tokenService = TokenServiceClient(client: environment.internalClient)

        AssetsEndpoint().register(on: router)
        AccountEndpoint(
            web: web, accounts: accounts, hasher: hasher, passwordCheck: passwordCheck, secondFactor: secondFactor, tokenService: tokenService,
            federation: federation, uma: UMAClient(client: environment.internalClient), time: environment.time
        )
        .register(on: router)
        SharingEndpoint(web: web, accounts: accounts, uma: UMAClient(client: environment.internalClient)).register(on: router)
        TOTPEndpoint(web: web, secondFactor: secondFactor, passwordCheck: passwordCheck).register(on: router)
        LoginEndpoint(web: web, accounts: accounts, throttle: throttle, hasher: hasher, secondFactor: secondFactor, time: environment.time)
            .register(on: router)
        DeviceEndpoint(web: web, throttle: throttle, internalClient: environment.internalClient, time: environment.time).register(on: router)
        OTPLoginEndpoint(web: web, accounts: accounts, throttle: throttle, secondFactor: secondFactor, time: environment.time).register(on: router)
        ConsentEndpoint(web: web).register(on: router)
        LogoutEndpoint(web: web, tokenService: tokenService).register(on: router)

        var clients: [String: UpstreamClient] = [:]
        for upstream in upstreams { clients[upstream.id] = UpstreamClient(provider: upstream, http: environment.httpClient, time: environment.time) }
        FederationEndpoint(
            web: web, providers: clients, accounts: accounts, federation: federation, time: environment.time,
            callbackURL: config.baseURL.absoluteString.trimmingSuffix("/") + FederationEndpoint.callbackPath, secureCookies: secureCookies
        )
        .register(on: router)

        let internalRoutes = router.group("/internal").add(middleware: InternalAuthMiddleware(verifier: environment.serviceTokens))
        UserinfoEndpoint(accounts: accounts, limit: config.maximumBodyBytes).register(on: internalRoutes)
        AccountLookupEndpoint(accounts: accounts, limit: config.maximumBodyBytes).register(on: internalRoutes)
        PasswordVerifyEndpoint(
            accounts: accounts, throttle: throttle, hasher: hasher, time: environment.time, limit: config.maximumBodyBytes,
            hasSecondFactor: { try await secondFactor.isEnabled(accountID: $0) }
        )
        .register(on: internalRoutes)

        let admin = router.group("/admin").add(middleware: AdminAuthMiddleware(adminToken: config.adminToken, realm: "neosec-admin"))
        AdminAccountsEndpoint(
            accounts: accounts, sessions: sessions, throttle: throttle, hasher: hasher, secondFactor: secondFactor, tokenService: tokenService,
            time: environment.time, bodyLimit: config.maximumBodyBytes
        )
        .register(on: admin)
    }

    /// The path of the service's public URL without a trailing slash ("" at the root), for when
    /// a proxy serves it under a prefix.
    static func basePath(_ url: URL) -> String {
        var path = url.path
        while path.hasSuffix("/") { path.removeLast() }
        return path
    }
}
