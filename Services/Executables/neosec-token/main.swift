import ServiceKit
import TokenService

await ServiceRuntime.main(TokenService.self)
