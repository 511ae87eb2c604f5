import ServiceKit
import UMAService

await ServiceRuntime.main(UMAService.self)
