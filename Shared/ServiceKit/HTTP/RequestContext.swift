public import Hummingbird
public import WireModels

/// The request context of every NeoSec service.
public struct NeoSecRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// The authenticated calling service, set by `InternalAuthMiddleware` on `/internal/*` routes.
    public var caller: ServiceName?

    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.caller = nil
    }

    /// JSON bodies decoded by Hummingbird itself are capped too; our own body helpers take the
    /// configured limit explicitly.
    public var maxUploadSize: Int { 64 * 1024 }
}
