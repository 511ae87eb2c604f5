public import Configuration
public import Foundation
public import JOSE
public import Logging
import Storage
import SystemPackage
public import WireModels

/// Everything a service needs to start, read once at start-up.
///
/// Sources, highest precedence first: environment variables (`NEOSEC_TOKEN_PORT` for the key
/// `neosec.token.port`), then the JSON file named by `NEOSEC_CONFIG_FILE` (`{"neosec": {"token":
/// {"port": 9000}}}`). Secrets are read with `isSecret`, so swift-configuration never prints them.
public struct ServiceConfig: Sendable {
    public enum Mode: String, Sendable {
        /// Missing secrets are generated and kept under the data directory.
        case development
        /// Missing or short secrets stop the service at start-up.
        case production
    }

    public var service: ServiceName
    public var mode: Mode
    public var host: String
    public var port: Int
    /// Public base URL of every service, this one included (`NEOSEC_<SERVICE>_URL`).
    public var serviceURLs: [ServiceName: URL]
    /// The OAuth issuer identifier (the Token Service's base URL by default).
    public var issuer: URL
    public var dataDirectory: String
    /// `postgres://…` selects PostgreSQL; absent means SQLite under `dataDirectory`.
    public var databaseURL: String?
    public var masterKey: Secret
    public var adminToken: Secret
    /// Services whose internal calls this one accepts (SPEC §6).
    public var internalCallers: Set<ServiceName>
    public var maximumBodyBytes: Int
    public var logLevel: Logger.Level
    /// How long a rotated-out signing key stays published; at least the longest token lifetime.
    public var keyRetentionSeconds: Int64
    /// RFC 9449 §8/§9: DPoP proofs must carry a server-provided nonce (`NEOSEC_DPOP_NONCE=required`).
    public var dpopRequireNonce: Bool
    /// Entries of the Introspection Service's answer cache (`NEOSEC_INTROSPECT_CACHE_CAPACITY`; 0 = off).
    public var introspectionCacheCapacity: Int
    /// TLS at this service (PEM files): `NEOSEC_<SERVICE>_TLS_CERT` and `_TLS_KEY`; with
    /// `_TLS_CLIENT_CA`, client certificates are requested and, when presented, verified against
    /// that CA (RFC 8705 certificate-bound tokens).
    public var tls: TLSFiles?
    /// PEM bundle of extra CAs trusted for outgoing calls (`NEOSEC_TLS_TRUST`).
    public var tlsTrustPath: String?
    /// The demo resource server's client at the Token Service, for its UMA protection API token
    /// (PAT): `NEOSEC_RESOURCE_UMA_CLIENT_ID` (default `demo-resource-server`), and its secret in
    /// `NEOSEC_RESOURCE_UMA_CLIENT_SECRET` or in the file `NEOSEC_RESOURCE_UMA_CLIENT_SECRET_FILE`
    /// (default `<data dir>/resource-server.secret`, which `neosec up` writes), read when needed.
    public var umaClientID: String = "demo-resource-server"
    public var umaClientSecret: Secret? = nil
    public var umaClientSecretFile: String? = nil
    /// The demo resource server's downstream print service (`NEOSEC_RESOURCE_PRINT_URL`): when set,
    /// `POST /api/documents/{id}/print` exchanges the caller's token (RFC 8693) for one audienced
    /// to it and calls it on the caller's behalf, with the same client as above.
    public var printServiceURL: URL? = nil
    /// PostgreSQL role the Token Service lets read the tables the Introspection Service needs
    /// (`NEOSEC_TOKEN_STORE_READER_ROLE`): granted `USAGE` on `neosec_token` and `SELECT` on
    /// those tables at every start, after migrations. Ignored with SQLite.
    public var tokenStoreReaderRole: String? = nil
    /// The Introspection Service's connection to the Token Service's PostgreSQL schema
    /// (`NEOSEC_INTROSPECT_TOKEN_STORE_URL`): a role with read rights only (the one above). When
    /// set, start-up checks that this role cannot write and refuses to run if it can.
    public var introspectTokenStoreURL: String? = nil
    /// Fetching client-supplied URLs (`jwks_uri`, `sector_identifier_uri`):
    /// `NEOSEC_TOKEN_OUTBOUND_FETCH` = `on` (public https only, default), `off` (such metadata is
    /// refused), or `loopback` (development only: loopback destinations too, for local tests).
    public var outboundFetch: OutboundFetcher.Mode = .on
    /// RFC 7591 registration without an initial access token (`NEOSEC_TOKEN_OPEN_REGISTRATION=true`).
    public var openRegistration = false
    /// RFC 8628: device code lifetime (`NEOSEC_TOKEN_DEVICE_CODE_LIFETIME`, 10–1800 s, default 600)
    /// and the polling interval it starts with (`NEOSEC_TOKEN_DEVICE_POLL_INTERVAL`, 1–60 s, default 5).
    public var deviceCodeLifetime = 600
    public var devicePollInterval = 5

    public struct TLSFiles: Sendable, Equatable {
        public var certificatePath: String
        public var keyPath: String
        public var clientCAPath: String?
    }

    public var baseURL: URL { serviceURLs[service]! }

    /// Minimum lengths of configured secrets.
    public static let minimumMasterKeyBytes = 32
    public static let minimumAdminTokenLength = 32

    public init(
        service: ServiceName,
        mode: Mode = .development,
        host: String = "127.0.0.1",
        port: Int? = nil,
        serviceURLs: [ServiceName: URL]? = nil,
        issuer: URL? = nil,
        dataDirectory: String,
        databaseURL: String? = nil,
        masterKey: Secret,
        adminToken: Secret,
        internalCallers: Set<ServiceName>? = nil,
        maximumBodyBytes: Int = 64 * 1024,
        logLevel: Logger.Level = .info,
        keyRetentionSeconds: Int64 = 86_400,
        dpopRequireNonce: Bool = false,
        introspectionCacheCapacity: Int = 10_000,
        tls: TLSFiles? = nil,
        tlsTrustPath: String? = nil
    ) {
        self.tls = tls
        self.tlsTrustPath = tlsTrustPath
        self.introspectionCacheCapacity = introspectionCacheCapacity
        self.dpopRequireNonce = dpopRequireNonce
        self.service = service
        self.mode = mode
        self.host = host
        self.port = port ?? service.defaultPort
        let urls = serviceURLs ?? Dictionary(uniqueKeysWithValues: ServiceName.allCases.map { ($0, URL(string: "http://127.0.0.1:\($0.defaultPort)")!) })
        self.serviceURLs = urls
        self.issuer = issuer ?? urls[.token]!
        self.dataDirectory = dataDirectory
        self.databaseURL = databaseURL
        self.masterKey = masterKey
        self.adminToken = adminToken
        self.internalCallers = internalCallers ?? Self.defaultCallers(of: service)
        self.maximumBodyBytes = maximumBodyBytes
        self.logLevel = logLevel
        self.keyRetentionSeconds = keyRetentionSeconds
    }

    /// Who may call whom by default: the flows of docs/architecture.md.
    public static func defaultCallers(of service: ServiceName) -> Set<ServiceName> {
        switch service {
        case .token: [.authn, .uma, .introspect, .resource]
        case .authn: [.token, .uma]
        case .uma: [.token, .authn, .resource]
        case .introspect: [.token, .resource, .uma]
        case .resource: [.resource]
        }
    }

    /// Reads the configuration of `service` from the environment and the optional config file.
    public static func load(service: ServiceName, environment: [String: String] = ProcessInfo.processInfo.environment) async throws -> ServiceConfig {
        var providers: [any ConfigProvider] = [EnvironmentVariablesProvider(environmentVariables: environment)]
        if let file = environment["NEOSEC_CONFIG_FILE"], !file.isEmpty {
            providers.append(try await FileProvider<JSONSnapshot>(filePath: FilePath(file), allowMissing: false))
        }
        let reader = ConfigReader(providers: providers)
        return try await load(service: service, reader: reader)
    }

    static func load(service: ServiceName, reader: ConfigReader) async throws -> ServiceConfig {
        let name = service.shortName
        guard let mode = Mode(rawValue: reader.string(forKey: "neosec.mode", default: "development")) else {
            throw ConfigError("NEOSEC_MODE must be development or production")
        }
        var urls: [ServiceName: URL] = [:]
        for peer in ServiceName.allCases {
            let fallback = "http://127.0.0.1:\(reader.int(forKey: ConfigKey("neosec.\(peer.shortName).port"), default: peer.defaultPort))"
            let text = reader.string(forKey: ConfigKey("neosec.\(peer.shortName).url"), default: fallback)
            guard let url = URL(string: text), let scheme = url.scheme, scheme == "http" || scheme == "https", url.host != nil else {
                throw ConfigError("NEOSEC_\(peer.shortName.uppercased())_URL is not an http(s) URL")
            }
            urls[peer] = url
        }
        let issuerText = reader.string(forKey: "neosec.issuer", default: urls[.token]!.absoluteString)
        guard let issuer = URL(string: issuerText), issuer.query == nil, issuer.fragment == nil else {
            throw ConfigError("NEOSEC_ISSUER must be a URL without query or fragment (RFC 8414 §2)")
        }
        // RFC 8414 §2: the issuer is an https URL. Loopback http is allowed for local runs.
        // Service-to-service URLs may stay plain http inside a private network: what crosses
        // them is short-lived, audience-bound and single-use.
        if mode == .production && issuer.scheme != "https" && !(issuer.host == "127.0.0.1" || issuer.host == "localhost" || issuer.host == "::1") {
            throw ConfigError("NEOSEC_ISSUER must use https in production")
        }
        let dataDirectory = reader.string(forKey: "neosec.data.dir", default: "./.neosec")
        let databaseURL = reader.string(forKey: "neosec.database.url", isSecret: true)

        let masterKey = try resolveSecret(
            reader.string(forKey: "neosec.master.key", isSecret: true),
            name: "NEOSEC_MASTER_KEY",
            file: "master.key",
            mode: mode,
            dataDirectory: dataDirectory,
            generate: { Base64URL.encode(Secret.randomBytes(32)) },
            validate: { Base64URL.decode($0).map { $0.count >= minimumMasterKeyBytes } ?? false },
            requirement: "base64url of at least \(minimumMasterKeyBytes) random bytes"
        )
        let adminToken = try resolveSecret(
            reader.string(forKey: "neosec.admin.token", isSecret: true),
            name: "NEOSEC_ADMIN_TOKEN",
            file: "admin.token",
            mode: mode,
            dataDirectory: dataDirectory,
            generate: { "neo_adm_" + Base64URL.encode(Secret.randomBytes(32)) },
            validate: { $0.utf8.count >= minimumAdminTokenLength },
            requirement: "at least \(minimumAdminTokenLength) characters"
        )

        var callers: Set<ServiceName>? = nil
        if let list = reader.stringArray(forKey: ConfigKey("neosec.\(name).internal.callers")) {
            callers = try Set(list.filter { !$0.isEmpty }.map { item in
                guard let caller = ServiceName(shortName: item.trimmingCharacters(in: .whitespaces)) else {
                    throw ConfigError("NEOSEC_\(name.uppercased())_INTERNAL_CALLERS names an unknown service")
                }
                return caller
            })
        }
        guard let level = Logger.Level(rawValue: reader.string(forKey: "neosec.log.level", default: "info")) else {
            throw ConfigError("NEOSEC_LOG_LEVEL must be one of trace, debug, info, notice, warning, error, critical")
        }
        let maximumBody = reader.int(forKey: "neosec.max.body.bytes", default: 64 * 1024)
        guard (1024...(16 << 20)).contains(maximumBody) else { throw ConfigError("NEOSEC_MAX_BODY_BYTES must be between 1 KiB and 16 MiB") }
        let retention = reader.int(forKey: "neosec.key.retention.seconds", default: 86_400)
        guard retention >= 60 else { throw ConfigError("NEOSEC_KEY_RETENTION_SECONDS must be at least 60") }
        let nonce = reader.string(forKey: "neosec.dpop.nonce", default: "off")
        guard nonce == "off" || nonce == "required" else { throw ConfigError("NEOSEC_DPOP_NONCE must be off or required") }
        var tls: TLSFiles? = nil
        let certificate = reader.string(forKey: ConfigKey("neosec.\(name).tls.cert"))
        let key = reader.string(forKey: ConfigKey("neosec.\(name).tls.key"), isSecret: true)
        switch (certificate, key) {
        case (let certificate?, let key?) where !certificate.isEmpty && !key.isEmpty:
            let clientCA = reader.string(forKey: ConfigKey("neosec.\(name).tls.client.ca"))
            tls = TLSFiles(certificatePath: certificate, keyPath: key, clientCAPath: clientCA?.isEmpty == false ? clientCA : nil)
        case (nil, nil):
            break
        default:
            throw ConfigError("NEOSEC_\(name.uppercased())_TLS_CERT and NEOSEC_\(name.uppercased())_TLS_KEY go together")
        }
        let trust = reader.string(forKey: "neosec.tls.trust")
        let cacheCapacity = reader.int(forKey: "neosec.introspect.cache.capacity", default: 10_000)
        guard (0...1_000_000).contains(cacheCapacity) else { throw ConfigError("NEOSEC_INTROSPECT_CACHE_CAPACITY must be between 0 and 1000000") }

        var config = ServiceConfig(
            service: service,
            mode: mode,
            host: reader.string(forKey: ConfigKey("neosec.\(name).host"), default: reader.string(forKey: "neosec.host", default: "127.0.0.1")),
            port: reader.int(forKey: ConfigKey("neosec.\(name).port"), default: service.defaultPort),
            serviceURLs: urls,
            issuer: issuer,
            dataDirectory: dataDirectory,
            databaseURL: databaseURL,
            masterKey: masterKey,
            adminToken: adminToken,
            internalCallers: callers,
            maximumBodyBytes: maximumBody,
            logLevel: level,
            keyRetentionSeconds: Int64(retention),
            dpopRequireNonce: nonce == "required",
            introspectionCacheCapacity: cacheCapacity,
            tls: tls,
            tlsTrustPath: trust?.isEmpty == false ? trust : nil
        )
        config.umaClientID = reader.string(forKey: "neosec.resource.uma.client.id", default: "demo-resource-server")
        if let secret = reader.string(forKey: "neosec.resource.uma.client.secret", isSecret: true), !secret.isEmpty {
            config.umaClientSecret = Secret(secret)
        }
        config.umaClientSecretFile = reader.string(
            forKey: "neosec.resource.uma.client.secret.file", default: URL(fileURLWithPath: dataDirectory).appendingPathComponent("resource-server.secret").path
        )
        guard let fetch = OutboundFetcher.Mode(rawValue: reader.string(forKey: "neosec.token.outbound.fetch", default: "on")) else {
            throw ConfigError("NEOSEC_TOKEN_OUTBOUND_FETCH must be on, off or loopback")
        }
        if fetch == .loopback && mode == .production { throw ConfigError("NEOSEC_TOKEN_OUTBOUND_FETCH=loopback is for development only") }
        config.outboundFetch = fetch
        config.openRegistration = reader.bool(forKey: "neosec.token.open.registration", default: false)
        config.deviceCodeLifetime = reader.int(forKey: "neosec.token.device.code.lifetime", default: 600)
        guard (10...1_800).contains(config.deviceCodeLifetime) else { throw ConfigError("NEOSEC_TOKEN_DEVICE_CODE_LIFETIME must be 10 to 1800 seconds") }
        config.devicePollInterval = reader.int(forKey: "neosec.token.device.poll.interval", default: 5)
        guard (1...60).contains(config.devicePollInterval) else { throw ConfigError("NEOSEC_TOKEN_DEVICE_POLL_INTERVAL must be 1 to 60 seconds") }
        if let role = reader.string(forKey: "neosec.token.store.reader.role"), !role.isEmpty {
            guard PostgresDatabase.isSafeIdentifier(role) else { throw ConfigError("NEOSEC_TOKEN_STORE_READER_ROLE must be a role name of [a-z_][a-z0-9_]*") }
            config.tokenStoreReaderRole = role
        }
        if let url = reader.string(forKey: "neosec.introspect.token.store.url", isSecret: true), !url.isEmpty {
            do { _ = try PostgresURL(parsing: url) } catch { throw ConfigError("NEOSEC_INTROSPECT_TOKEN_STORE_URL is not a postgres:// URL") }
            config.introspectTokenStoreURL = url
        }
        if let print = reader.string(forKey: "neosec.resource.print.url"), !print.isEmpty {
            guard let url = URL(string: print), url.scheme == "http" || url.scheme == "https", url.host != nil, url.query == nil, url.fragment == nil else {
                throw ConfigError("NEOSEC_RESOURCE_PRINT_URL is not an http(s) URL")
            }
            config.printServiceURL = url
        }
        return config
    }

    /// A configured secret, or in development one kept in (or generated into) a 0600 file under
    /// the data directory; in production a missing or weak secret stops start-up.
    static func resolveSecret(
        _ configured: String?,
        name: String,
        file: String,
        mode: Mode,
        dataDirectory: String,
        generate: () -> String,
        validate: (String) -> Bool,
        requirement: String
    ) throws -> Secret {
        if let configured, !configured.isEmpty {
            guard validate(configured) else { throw ConfigError("\(name) is too short or malformed: it must be \(requirement)") }
            return Secret(configured)
        }
        guard mode == .development else { throw ConfigError("\(name) is required in production mode (\(requirement))") }
        let path = URL(fileURLWithPath: dataDirectory).appendingPathComponent(file).path
        return try Secret.loadOrCreate(path: path, generate: generate, validate: validate)
    }
}

/// A secret string: never printed, never logged, compared in constant time.
public struct Secret: Sendable, CustomStringConvertible, CustomDebugStringConvertible {
    public let value: String
    public init(_ value: String) { self.value = value }
    public var description: String { "[secret]" }
    public var debugDescription: String { "[secret]" }

    public func matches(_ candidate: String) -> Bool { ConstantTime.equals(value, candidate) }

    static func randomBytes(_ count: Int) -> [UInt8] { RandomToken.randomBytes(count) }

    /// Reads the secret in `path`, or creates it (mode 0600, created exclusively so two
    /// processes starting together agree on one value).
    public static func loadOrCreate(path: String, generate: () -> String, validate: (String) -> Bool) throws -> Secret {
        let fileManager = FileManager.default
        let directory = URL(fileURLWithPath: path).deletingLastPathComponent().path
        try fileManager.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        if !fileManager.fileExists(atPath: path) {
            let value = generate()
            let fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0o600)
            if fd >= 0 {
                let bytes = Array((value + "\n").utf8)
                let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
                fsync(fd)
                close(fd)
                guard written == bytes.count else { throw ConfigError("could not write \(path)") }
            }
        }
        guard let data = fileManager.contents(atPath: path) else { throw ConfigError("could not read \(path)") }
        let value = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard validate(value) else { throw ConfigError("\(path) holds a malformed secret") }
        return Secret(value)
    }
}

/// A configuration problem, reported at start-up. The message names the setting, never a value.
public struct ConfigError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}
