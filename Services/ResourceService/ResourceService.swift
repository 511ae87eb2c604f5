public import Hummingbird
public import ServiceKit
public import Storage
public import WireModels

/// Demo Resource Server: a per-user document API protected by NeoSec access tokens. Its
/// resource identifier (the audience its tokens must carry, RFC 8707) is its base URL.
public struct ResourceService: NeoSecService {
    public static let name = ServiceName.resource
    static let realm = "neosec-resource"
    public static let migrations: [Migration] = SQLDocumentStore.migrations

    let documents: any DocumentStore

    public init(environment: ServiceEnvironment) async throws {
        documents = SQLDocumentStore(environment.database)
    }

    /// The audience tokens for this server carry: its base URL without a trailing slash.
    static func resourceIdentifier(_ config: ServiceConfig) -> String {
        config.baseURL.absoluteString.hasSuffix("/") ? String(config.baseURL.absoluteString.dropLast()) : config.baseURL.absoluteString
    }

    public func addRoutes(to router: Router<NeoSecRequestContext>, environment: ServiceEnvironment) {
        let config = environment.config
        let authenticator = AccessTokenVerifier(environment: environment, audience: Self.resourceIdentifier(config), realm: Self.realm)
        let protection = config.serviceURLs[.uma] == nil ? nil : ProtectionClient(config: config, http: environment.httpClient, time: environment.time)
        let chain = config.printServiceURL.map { url in
            PrintChain(
                tokenEndpoint: ResourceClientCredentials.tokenEndpoint(config),
                printService: url.absoluteString.hasSuffix("/") ? String(url.absoluteString.dropLast()) : url.absoluteString,
                credentials: ResourceClientCredentials(config: config), http: environment.httpClient
            )
        }
        DocumentsEndpoint(
            authenticator: authenticator, documents: documents, time: environment.time, bodyLimit: config.maximumBodyBytes, protection: protection, chain: chain
        ).register(on: router)
        PrintEndpoint(authenticator: authenticator, bodyLimit: config.maximumBodyBytes).register(on: router)
    }
}
