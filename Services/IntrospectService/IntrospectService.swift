public import Hummingbird
public import JOSE
public import ServiceKit
public import Storage
public import TokenService
public import WireModels

/// Introspection Service: RFC 7662 introspection (JSON, and RFC 9701 signed JWT answers) and the
/// phantom-token exchange, on the shared kit (health, readiness, metrics, internal-call keys at
/// `/internal/jwks.json`, error mapping, limits and security headers).
///
/// It owns no protocol state: it reads the Token Service's store read-only (SQLite opened
/// read-only, or the `neosec_token` PostgreSQL schema through a role without write rights) and
/// verifies JWT access tokens against the Token Service's JWKS. Its own store holds its keys
/// (internal calls; `introspection`, the signing key of JWT answers and phantom tokens) and the
/// single-use identifiers of client assertions and service tokens. Answers are cached for at most
/// 5 s (`IntrospectionCache`), which bounds how long a revocation takes to apply.
public struct IntrospectService: NeoSecService {
    public static let name = ServiceName.introspect
    public static let migrations: [Migration] = []

    /// Signing-key purpose of signed introspection answers and phantom tokens: distinct from
    /// the internal-call keys and from the Token Service's token keys.
    public static let keyPurpose = "introspection"
    /// How long start-up waits for the Token Service to create its store.
    static let tokenStoreWait: Duration = .seconds(30)

    /// The keys of signed answers and phantom tokens (published at
    /// `/.well-known/introspection-jwks.json`).
    public let signingKeys: KeyRing
    let tokenStore: any SQLDatabase
    let introspector: TokenIntrospector
    let cache: IntrospectionCache
    let issuer: String

    /// The service as `neosec-introspect` runs it: the Token Service's JWKS comes from
    /// `<Token Service URL>/.well-known/jwks.json`, cached 5 min, refetched on an unknown `kid`
    /// at most every 10 s.
    public init(environment: ServiceEnvironment) async throws {
        let tokenURL = environment.config.serviceURLs[.token] ?? environment.config.issuer
        let jwks = TokenServiceJWKS(
            url: tokenURL.absoluteString.trimmingTrailingSlash + TokenIntrospector.tokenJWKSPath, client: environment.httpClient,
            time: environment.time
        )
        try await self.init(environment: environment, tokenJWKS: { refresh in try await jwks.keys(refresh: refresh) })
    }

    /// The service with another source of the Token Service's keys (tests, embedding).
    public init(environment: ServiceEnvironment, tokenJWKS: @escaping TokenIntrospector.KeyProvider) async throws {
        let config = environment.config
        signingKeys = KeyRing(
            purpose: Self.keyPurpose,
            algorithms: [.es256],
            store: SQLKeyStore(environment.database),
            sealer: environment.sealer,
            time: environment.time,
            retention: config.keyRetentionSeconds
        )
        try await signingKeys.bootstrap()
        tokenStore = try await Self.openTokenStore(environment)
        issuer = TokenIntrospector.issuer(of: config)
        let endpoint = config.baseURL.absoluteString.trimmingTrailingSlash + TokenIntrospector.endpointPath
        introspector = TokenIntrospector(
            tokenStore: tokenStore, replay: environment.replay, time: environment.time, issuer: issuer,
            assertionAudiences: TokenIntrospector.assertionAudiences(config, introspectionEndpoint: endpoint), jwks: tokenJWKS
        )
        cache = IntrospectionCache(time: environment.time, capacity: config.introspectionCacheCapacity)
    }

    /// Opens the Token Service's store read-only. Under `neosec up` both services start
    /// together, so the store may not exist yet (the SQLite file, or the tables and grants in
    /// PostgreSQL): retry for a while before giving up.
    ///
    /// With `NEOSEC_INTROSPECT_TOKEN_STORE_URL` the store is read through that PostgreSQL role,
    /// which must be able to read `TokenIntrospector.readTables` and write none of them: a role
    /// with write rights stops start-up. Without it, PostgreSQL is read through the service's own
    /// connection and only this process's read-only guard keeps it from writing.
    static func openTokenStore(_ environment: ServiceEnvironment) async throws -> any SQLDatabase {
        let deadline = ContinuousClock.now + tokenStoreWait
        var logged = false
        while true {
            do {
                return try await openTokenStoreOnce(environment)
            } catch let error as ConfigError {
                throw error
            } catch {
                guard ContinuousClock.now < deadline else { throw error }
                if !logged {
                    environment.logger.notice("token store not available yet; waiting for the Token Service")
                    logged = true
                }
                try await Task.sleep(for: .milliseconds(250))
            }
        }
    }

    static func openTokenStoreOnce(_ environment: ServiceEnvironment) async throws -> any SQLDatabase {
        let config = environment.config
        guard let readerURL = config.introspectTokenStoreURL else {
            let store = try ServiceRuntime.openDatabase(owner: ServiceName.token.shortName, config: config, readOnly: true, logger: environment.logger)
            if store is PostgresDatabase {
                environment.logger.notice("token store read with the service's own PostgreSQL role; set NEOSEC_INTROSPECT_TOKEN_STORE_URL to a read-only role")
            }
            return store
        }
        let store = try PostgresDatabase(
            url: try PostgresURL(parsing: readerURL), schema: "neosec_\(ServiceName.token.shortName)", readOnly: true, logger: environment.logger
        )
        do {
            let granted = try await store.privileges()
            guard granted.writable.isEmpty else {
                throw ConfigError(
                    "NEOSEC_INTROSPECT_TOKEN_STORE_URL's role may write to \(granted.writable.sorted().joined(separator: ", ")): give the Introspection Service a role with SELECT only"
                )
            }
            let beyond = granted.readable.subtracting(TokenIntrospector.readTables)
            guard beyond.isEmpty else {
                throw ConfigError(
                    "NEOSEC_INTROSPECT_TOKEN_STORE_URL's role may read \(beyond.sorted().joined(separator: ", ")): grant it SELECT on \(TokenIntrospector.readTables.joined(separator: ", ")) only"
                )
            }
            let missing = Set(TokenIntrospector.readTables).subtracting(granted.readable)
            guard missing.isEmpty else {
                throw StorageError(description: "the reader role cannot read \(missing.sorted().joined(separator: ", ")) yet (NEOSEC_TOKEN_STORE_READER_ROLE at the Token Service)")
            }
            return store
        } catch {
            try? await store.close()
            throw error
        }
    }

    /// Closes the read-only view of the token store (the kit closes the service's own store).
    public func close() async throws {
        try await tokenStore.close()
    }

    /// Ready once the Token Service's tables are readable and the signing key is loaded.
    public var readinessChecks: [ReadinessCheck] {
        let (tokenStore, keys) = (self.tokenStore, signingKeys)
        return [
            ReadinessCheck(name: "token_store") {
                _ = try await tokenStore.query("SELECT COUNT(*) AS n FROM \(tokenStore.table("issued_tokens")) WHERE hash = ''")
            },
            ReadinessCheck(name: "introspection_keys") {
                guard keys.isReady else { throw JOSEError.unknownKeyID }
            },
        ]
    }

    public func addRoutes(to router: Router<NeoSecRequestContext>, environment: ServiceEnvironment) {
        let config = environment.config
        let base = config.baseURL.absoluteString.trimmingTrailingSlash
        IntrospectionEndpoint(
            introspector: introspector, cache: cache, keys: signingKeys, issuer: issuer, time: environment.time, bodyLimit: config.maximumBodyBytes,
            bearerAudiences: [base, base + TokenIntrospector.endpointPath]
        ).register(on: router)
        IntrospectionJWKSEndpoint(keys: signingKeys).register(on: router)
        let internalRoutes = router.group("/internal").add(middleware: InternalAuthMiddleware(verifier: environment.serviceTokens))
        PhantomTokenEndpoint(
            introspector: introspector, cache: cache, keys: signingKeys, issuer: issuer, time: environment.time, limit: config.maximumBodyBytes
        ).register(on: internalRoutes)
    }
}

extension String {
    var trimmingTrailingSlash: String { hasSuffix("/") ? String(dropLast()) : self }
}
