public import Hummingbird
public import NIOCore
public import WireModels

/// The request context of every NeoSec service.
public struct NeoSecRequestContext: RequestContext, RemoteAddressRequestContext {
    public var coreContext: CoreRequestContextStorage
    /// The authenticated calling service, set by `InternalAuthMiddleware` on `/internal/*` routes.
    public var caller: ServiceName?
    /// The peer of the connection (behind a load balancer: the balancer). Nil in router tests.
    public let remoteAddress: SocketAddress?
    /// The connection, for its TLS state. Nil in router tests.
    let channel: (any Channel)?

    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.caller = nil
        self.remoteAddress = source.channel.remoteAddress
        self.channel = source.channel
    }

    /// RFC 8705 `x5t#S256` of the client certificate of this connection, when the service
    /// terminates TLS with client certificates and one was presented and verified.
    public func clientCertificateThumbprint() async -> String? {
        guard let channel else { return nil }
        return await TLSSetup.clientCertificateThumbprint(channel)
    }

    /// JSON bodies decoded by Hummingbird itself are capped too; our own body helpers take the
    /// configured limit explicitly.
    public var maxUploadSize: Int { 64 * 1024 }
}
