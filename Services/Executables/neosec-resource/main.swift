import ServiceKit
import ResourceService

await ServiceRuntime.main(ResourceService.self)
