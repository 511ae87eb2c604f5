import Hummingbird
import NIOCore
import ServiceKit

/// `GET /assets/app.css`: the pages' only stylesheet (the CSP allows `style-src 'self'` and
/// nothing inline). Public and cacheable for an hour.
struct AssetsEndpoint {
    static let stylesheetPath = "/assets/app.css"

    func register(on router: Router<NeoSecRequestContext>) {
        let stylesheet = ByteBuffer(string: Templates.stylesheet)
        router.get(RouterPath(stringLiteral: Self.stylesheetPath)) { _, _ in
            Response(
                status: .ok,
                headers: [.contentType: "text/css; charset=utf-8", .cacheControl: "public, max-age=3600"],
                body: ResponseBody(byteBuffer: stylesheet)
            )
        }
    }
}
