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

    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.caller = nil
        self.remoteAddress = source.channel.remoteAddress
    }

    /// JSON bodies decoded by Hummingbird itself are capped too; our own body helpers take the
    /// configured limit explicitly.
    public var maxUploadSize: Int { 64 * 1024 }
}
