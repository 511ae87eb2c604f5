public import Hummingbird
public import JOSE
public import ServiceKit
public import Storage
public import WireModels

/// The Token Service: OAuth 2.0 Authorization Server and OpenID Provider. It owns the token
/// store and the token-signing keys.
public struct TokenService: NeoSecService {
    public static let name = ServiceName.token
    public static let migrations: [Migration] =
        SQLSubjectRevocationStore.migrations + SQLClientStore.migrations + SQLTokenStore.migrations + SQLAuthorizationStore.migrations
        + SQLTrustStore.migrations + SQLRegistrationStore.migrations + SQLDeviceAuthorizationStore.migrations
        + SQLBackchannelStore.migrations

    /// Token-signing key purpose; distinct from the internal-call keys of every service.
    public static let tokenKeyPurpose = "token"
    /// RS256 is the OpenID Connect default (Core §15.1); ES256 and EdDSA when a client registers them.
    public static let tokenAlgorithms: [SigningAlgorithm] = [.rs256, .es256, .edDSA]

    public let tokenKeys: KeyRing
    public let subjectRevocations: any SubjectRevocationStore
    let clients: ClientRegistry
    let tokens: any TokenStore
    let authorizations: any AuthorizationStore
    let replay: any ReplayStore
    let time: any TimeSource
    let trusts: TrustedIssuers
    let registrations: any RegistrationStore
    let devices: any DeviceAuthorizationStore
    let backchannel: any BackchannelStore

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
        clients = ClientRegistry(
            store: SQLClientStore(environment.database), time: environment.time,
            fetcher: OutboundFetcher(mode: environment.config.outboundFetch, trustRoots: environment.config.tlsTrustPath)
        )
        tokens = SQLTokenStore(environment.database)
        authorizations = SQLAuthorizationStore(environment.database)
        replay = environment.replay
        time = environment.time
        trusts = TrustedIssuers(store: SQLTrustStore(environment.database), http: environment.httpClient, time: environment.time)
        registrations = SQLRegistrationStore(environment.database)
        devices = SQLDeviceAuthorizationStore(environment.database)
        backchannel = SQLBackchannelStore(environment.database)
        try await Self.grantReader(environment)
    }

    /// `NEOSEC_TOKEN_STORE_READER_ROLE`: with PostgreSQL, the role the Introspection Service
    /// connects as may read `TokenIntrospector.readTables` and nothing else (the keys, codes,
    /// consents and registrations stay out of its reach).
    static func grantReader(_ environment: ServiceEnvironment) async throws {
        guard let role = environment.config.tokenStoreReaderRole else { return }
        guard let postgres = environment.database as? PostgresDatabase else {
            environment.logger.warning("NEOSEC_TOKEN_STORE_READER_ROLE is ignored: the token store is SQLite (the Introspection Service opens it read-only)")
            return
        }
        try await postgres.grantRead(TokenIntrospector.readTables, to: role)
        environment.logger.info("token store readable by role", metadata: ["role": .string(role), "tables": .string(TokenIntrospector.readTables.joined(separator: ","))])
    }

    /// Expired challenges, codes, tokens and single-use identifiers go once a minute.
    public var backgroundTasks: [BackgroundTask] {
        let (tokens, authorizations, replay, time, registrations, devices, backchannel) = (
            self.tokens, self.authorizations, self.replay, self.time, self.registrations, self.devices, self.backchannel
        )
        return [
            BackgroundTask(name: "purge_expired", interval: .seconds(60)) {
                let now = time.epochSeconds
                _ = try await authorizations.purgeExpired(now: now)
                _ = try await tokens.purgeExpired(now: now)
                _ = try await replay.purgeExpired(now: now)
                _ = try await registrations.purgeExpired(now: now)
                _ = try await devices.purgeExpired(now: now)
                _ = try await backchannel.purgeExpired(now: now)
            }
        ]
    }

    /// The token endpoint URL (an accepted `aud` of client assertions, RFC 7523 §3).
    static func tokenEndpointURL(_ config: ServiceConfig) -> String {
        config.issuer.absoluteString.trimmingSuffix("/") + TokenEndpoint.path
    }

    func issuer(_ config: ServiceConfig) -> String { config.issuer.absoluteString.trimmingSuffix("/") }

    func userTokens(_ environment: ServiceEnvironment) -> UserTokenIssuer {
        let issuer = issuer(environment.config)
        let accessTokens = AccessTokenIssuer(issuer: issuer, keys: tokenKeys, tokens: tokens, time: environment.time)
        return UserTokenIssuer(issuer: issuer, accessTokens: accessTokens, keys: tokenKeys, tokens: tokens, time: environment.time)
    }

    /// Reads this service's own tokens as the Introspection Service does (token exchange).
    func introspector(_ environment: ServiceEnvironment) -> TokenIntrospector {
        let keys = tokenKeys
        return TokenIntrospector(
            issuer: issuer(environment.config), tokens: tokens, subjectRevocations: subjectRevocations,
            authenticator: authenticator(environment), time: environment.time, realm: "neosec", jwks: { _ in keys.verificationKeys }
        )
    }

    func authenticator(_ environment: ServiceEnvironment) -> ClientAuthenticator {
        let config = environment.config
        return ClientAuthenticator(
            registry: clients,
            replay: environment.replay,
            time: environment.time,
            audiences: [Self.tokenEndpointURL(config), config.issuer.absoluteString.trimmingSuffix("/"), config.issuer.absoluteString],
            realm: "neosec"
        )
    }

    func grantHandlers(_ environment: ServiceEnvironment) -> [String: any GrantHandler] {
        let userTokens = userTokens(environment)
        let handlers: [any GrantHandler] = [
            AuthorizationCodeGrant(store: authorizations, tokens: tokens, userTokens: userTokens, replay: replay, time: environment.time),
            ClientCredentialsGrant(accessTokens: userTokens.accessTokens),
            RefreshTokenGrant(tokens: tokens, subjectRevocations: subjectRevocations, userTokens: userTokens, replay: replay, time: environment.time),
            PasswordGrant(internalClient: environment.internalClient, userTokens: userTokens),
            TokenExchangeGrant(
                issuer: issuer(environment.config), tokenEndpoint: Self.tokenEndpointURL(environment.config),
                introspector: introspector(environment), trusts: trusts, replay: environment.replay, accessTokens: userTokens.accessTokens,
                keys: tokenKeys, time: environment.time
            ),
            JWTBearerGrant(
                tokenEndpoint: Self.tokenEndpointURL(environment.config), trusts: trusts, replay: environment.replay,
                accessTokens: userTokens.accessTokens
            ),
            DeviceCodeGrant(devices: devices, userTokens: userTokens, time: environment.time),
            CIBAGrant(store: backchannel, userTokens: userTokens, time: environment.time),
        ]
        + (environment.config.serviceURLs[.uma] == nil ? [] : [
            UMAGrant(
                issuer: issuer(environment.config), internalClient: environment.internalClient, accessTokens: userTokens.accessTokens, keys: tokenKeys,
                tokens: tokens, subjectRevocations: subjectRevocations, time: environment.time
            ) as any GrantHandler
        ])
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
        let authenticator = authenticator(environment)
        let handlers = grantHandlers(environment)
        let replay = environment.replay, time = environment.time
        let dpop = DPoPChecker(
            role: .tokenEndpoint, nonces: DPoPNonces(masterKey: config.masterKey), requireNonce: config.dpopRequireNonce, time: time,
            firstUse: { key, expiresAt in try await replay.claim(scope: "dpop", id: key, expiresAt: expiresAt, now: time.epochSeconds) }
        )
        TokenEndpoint(authenticator: authenticator, handlers: handlers, bodyLimit: config.maximumBodyBytes, dpop: dpop, url: Self.tokenEndpointURL(config))
            .register(on: router)
        RevocationEndpoint(authenticator: authenticator, tokens: tokens, keys: tokenKeys, time: environment.time, bodyLimit: config.maximumBodyBytes)
            .register(on: router)
        let introspectionEndpoint = config.serviceURLs[.introspect].map { $0.absoluteString.trimmingSuffix("/") + TokenIntrospector.endpointPath }
        DiscoveryEndpoint(
            issuer: issuer(config), grantTypes: Array(handlers.keys), introspectionEndpoint: introspectionEndpoint,
            certificateBoundTokens: config.tls?.clientCAPath != nil,
            umaBase: config.serviceURLs[.uma].map { $0.absoluteString.trimmingSuffix("/") }
        ).register(on: router)
        let userTokens = userTokens(environment)
        let authnURL = config.serviceURLs[.authn]!.absoluteString.trimmingSuffix("/")
        var flow = AuthorizationFlow(
            issuer: issuer(config), authnURL: authnURL, registry: clients, store: authorizations, tokens: tokens, userTokens: userTokens,
            time: environment.time
        )
        flow.devices = devices
        let internalClient = environment.internalClient
        flow.umaClaims = { ticket, clientID, subject in
            try await internalClient.post(
                .uma, path: "internal/uma/claims", body: UMAClaimsRequest(ticket: ticket, clientID: clientID, subject: subject), as: UMAClaimsAnswer.self
            ).ticket
        }
        UMAClaimsEndpoint(flow: flow, registry: clients).register(on: router)
        BackchannelEndpoint(
            authenticator: authenticator, store: backchannel, internalClient: environment.internalClient, sealer: environment.sealer,
            time: environment.time, bodyLimit: config.maximumBodyBytes
        ).register(on: router)
        DeviceAuthorizationEndpoint(
            authenticator: authenticator, devices: devices, time: environment.time, lifetime: config.deviceCodeLifetime,
            interval: config.devicePollInterval, verificationURI: authnURL + "/device", bodyLimit: config.maximumBodyBytes
        ).register(on: router)
        AuthorizeEndpoint(flow: flow, registry: clients, keys: tokenKeys, bodyLimit: config.maximumBodyBytes).register(on: router)
        EndSessionEndpoint(flow: flow, registry: clients, keys: tokenKeys, bodyLimit: config.maximumBodyBytes).register(on: router)
        let verifier = UserinfoTokenVerifier(
            keys: tokenKeys, tokens: tokens, subjectRevocations: subjectRevocations, time: environment.time, userinfoAudience: userTokens.userinfoAudience
        )
        let userinfoDPoP = DPoPChecker(
            role: .resourceServer(realm: UserinfoEndpoint.realm), nonces: DPoPNonces(masterKey: config.masterKey), requireNonce: config.dpopRequireNonce,
            time: time, firstUse: { key, expiresAt in try await replay.claim(scope: "dpop", id: key, expiresAt: expiresAt, now: time.epochSeconds) }
        )
        UserinfoEndpoint(
            verifier: verifier, internalClient: environment.internalClient, bodyLimit: config.maximumBodyBytes, dpop: userinfoDPoP,
            url: userTokens.userinfoAudience
        ).register(on: router)
        let admin = router.group("/admin").add(middleware: AdminAuthMiddleware(adminToken: config.adminToken, realm: "neosec-admin"))
        AdminKeysEndpoint(keys: tokenKeys).register(on: admin)
        AdminClientsEndpoint(registry: clients, tokens: tokens, registrations: registrations, bodyLimit: config.maximumBodyBytes).register(on: admin)
        AdminTrustsEndpoint(trusts: trusts, bodyLimit: config.maximumBodyBytes).register(on: admin)
        let registration = DynamicRegistration(
            registry: clients, store: registrations, time: environment.time, endpoint: issuer(config) + RegistrationEndpoint.path,
            openRegistration: config.openRegistration
        )
        AdminInitialAccessTokensEndpoint(registration: registration, bodyLimit: config.maximumBodyBytes).register(on: admin)
        RegistrationEndpoint(registration: registration, tokens: tokens, bodyLimit: config.maximumBodyBytes).register(on: router)
        let internalRoutes = router.group("/internal").add(middleware: InternalAuthMiddleware(verifier: environment.serviceTokens))
        SubjectRevocationEndpoint(store: subjectRevocations, time: environment.time, limit: config.maximumBodyBytes).register(on: internalRoutes)
        UMARevocationEndpoint(tokens: tokens, limit: config.maximumBodyBytes).register(on: internalRoutes)
        BackchannelInternalEndpoints(
            store: backchannel, registry: clients, fetcher: clients.fetcher, sealer: environment.sealer, time: environment.time,
            limit: config.maximumBodyBytes
        ).register(on: internalRoutes)
        FlowInternalEndpoints(flow: flow, store: authorizations, tokens: tokens, registry: clients, limit: config.maximumBodyBytes, devices: devices)
            .register(on: internalRoutes)
    }
}

extension String {
    func trimmingSuffix(_ suffix: String) -> String {
        hasSuffix(suffix) ? String(dropLast(suffix.count)) : self
    }
}
