import ArgumentParser
import AuthnService
import Foundation
import IntrospectService
import ResourceService
import ServiceKit
import TokenService
import UMAService
import WireModels

@main
struct NeoSecCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "neosec",
        abstract: "NeoSec: OAuth 2.0, OpenID Connect and UMA 2.0 for your APIs.",
        subcommands: [Up.self, Serve.self, Admin.self, Demo.self, Bench.self]
    )
}

/// `neosec serve <service>`: runs one service in this process (how `neosec up` starts its children).
struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run one service in the foreground (token, authn, uma, introspect, resource).")

    @Argument(help: "The service to run: token, authn, uma, introspect or resource.")
    var service: String

    func run() async throws {
        guard let name = ServiceName(shortName: service) else {
            throw ValidationError("unknown service '\(service)'; expected one of \(ServiceName.allCases.map(\.shortName).joined(separator: ", "))")
        }
        let supervised = ProcessInfo.processInfo.environment["NEOSEC_SUPERVISED"] == "1"
        if supervised {
            Supervision.exitWhenParentDies()
        }
        switch name {
        case .token: await ServiceRuntime.main(TokenService.self, supervised: supervised)
        case .authn: await ServiceRuntime.main(AuthnService.self, supervised: supervised)
        case .uma: await ServiceRuntime.main(UMAService.self, supervised: supervised)
        case .introspect: await ServiceRuntime.main(IntrospectService.self, supervised: supervised)
        case .resource: await ServiceRuntime.main(ResourceService.self, supervised: supervised)
        }
    }
}

enum Supervision {
    /// A child of `neosec up` stops itself if its parent disappears (killed without a chance to
    /// stop its children), so that no service is ever left behind.
    static func exitWhenParentDies() {
        let parent = getppid()
        Thread.detachNewThread {
            while true {
                sleep(1)
                if getppid() != parent {
                    kill(getpid(), SIGTERM)
                    return
                }
            }
        }
    }
}

/// `neosec bench password-hash`: the cost of the password hash, in hashes per second per core.
struct Bench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Measure costs that docs/benchmarks.md records.", subcommands: [PasswordHash.self])

    struct PasswordHash: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "password-hash", abstract: "scrypt hashes per second on one core.")
        @Option(help: "log2 of the scrypt cost N (r = 8, p = 1).") var logN = 17
        @Option(help: "How long to hash, in seconds.") var seconds = 10.0

        func run() async throws {
            let (hashes, elapsed) = try await PasswordHashBenchmark.run(logN: logN, seconds: seconds)
            print(String(format: "scrypt N=2^%d r=8 p=1: %d hashes in %.2f s = %.2f hashes/s/core (%.0f ms each)", logN, hashes, elapsed, Double(hashes) / elapsed, elapsed * 1000 / Double(hashes)))
        }
    }
}
