import ServiceKit
import AuthnService

await ServiceRuntime.main(AuthnService.self)
