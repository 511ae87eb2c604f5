import ServiceKit
import IntrospectService

await ServiceRuntime.main(IntrospectService.self)
