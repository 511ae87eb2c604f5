import Foundation
import JOSE
import NeoSecTesting
import ServiceKit
import Testing
import WireModels

@Suite("Configuration")
struct ConfigTests {
    let masterKey = Base64URL.encode([UInt8](repeating: 5, count: 32))
    let adminToken = String(repeating: "a", count: 40)

    @Test func developmentModeGeneratesPrivateSecretsOnce() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let first = try await ServiceConfig.load(service: .token, environment: ["NEOSEC_DATA_DIR": directory.path])
        let second = try await ServiceConfig.load(service: .uma, environment: ["NEOSEC_DATA_DIR": directory.path])
        #expect(first.masterKey.value == second.masterKey.value)
        #expect(first.adminToken.value == second.adminToken.value)
        #expect((Base64URL.decode(first.masterKey.value)?.count ?? 0) >= 32)
        for file in ["master.key", "admin.token"] {
            let attributes = try FileManager.default.attributesOfItem(atPath: directory.path + "/" + file)
            #expect((attributes[.posixPermissions] as? Int) == 0o600)
        }
        #expect(first.port == 9000 && second.port == 9002)
        #expect(first.issuer.absoluteString == "http://127.0.0.1:9000")
        #expect("\(first.masterKey)" == "[secret]")
    }

    @Test func productionModeRefusesMissingOrWeakSecrets() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let base = ["NEOSEC_MODE": "production", "NEOSEC_DATA_DIR": directory.path]
        await #expect(throws: ConfigError.self) { try await ServiceConfig.load(service: .token, environment: base) }
        await #expect(throws: ConfigError.self) {
            try await ServiceConfig.load(service: .token, environment: base.merging(["NEOSEC_MASTER_KEY": "c2hvcnQ", "NEOSEC_ADMIN_TOKEN": adminToken]) { $1 })
        }
        await #expect(throws: ConfigError.self) {
            try await ServiceConfig.load(service: .token, environment: base.merging(["NEOSEC_MASTER_KEY": masterKey, "NEOSEC_ADMIN_TOKEN": "short"]) { $1 })
        }
        let good = try await ServiceConfig.load(service: .token, environment: base.merging(["NEOSEC_MASTER_KEY": masterKey, "NEOSEC_ADMIN_TOKEN": adminToken]) { $1 })
        #expect(good.mode == .production)
        // Nothing was generated on disk in production.
        #expect(!FileManager.default.fileExists(atPath: directory.path + "/master.key"))
    }

    @Test func productionIssuerMustBeHTTPS() async throws {
        let secrets = ["NEOSEC_MODE": "production", "NEOSEC_MASTER_KEY": masterKey, "NEOSEC_ADMIN_TOKEN": adminToken]
        await #expect(throws: ConfigError.self) {
            try await ServiceConfig.load(service: .token, environment: secrets.merging(["NEOSEC_ISSUER": "http://auth.example.com"]) { $1 })
        }
        let config = try await ServiceConfig.load(service: .token, environment: secrets.merging(["NEOSEC_ISSUER": "https://auth.example.com"]) { $1 })
        #expect(config.issuer.absoluteString == "https://auth.example.com")
        await #expect(throws: ConfigError.self) {
            try await ServiceConfig.load(service: .token, environment: secrets.merging(["NEOSEC_ISSUER": "https://auth.example.com/?x=1"]) { $1 })
        }
    }

    @Test func internalCallersAndPortsComeFromTheEnvironment() async throws {
        let env = ["NEOSEC_MASTER_KEY": masterKey, "NEOSEC_ADMIN_TOKEN": adminToken, "NEOSEC_TOKEN_INTERNAL_CALLERS": "authn, uma", "NEOSEC_UMA_PORT": "9102"]
        let config = try await ServiceConfig.load(service: .token, environment: env)
        #expect(config.internalCallers == [.authn, .uma])
        #expect(config.serviceURLs[.uma]?.absoluteString == "http://127.0.0.1:9102")
        await #expect(throws: ConfigError.self) {
            try await ServiceConfig.load(service: .token, environment: env.merging(["NEOSEC_TOKEN_INTERNAL_CALLERS": "authn,evil"]) { $1 })
        }
        #expect(try await ServiceConfig.load(service: .authn, environment: env).internalCallers == ServiceConfig.defaultCallers(of: .authn))
    }

    @Test func configFileIsReadAndEnvironmentWins() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let file = directory.path + "/neosec.json"
        try Data(#"{"neosec": {"token": {"port": 9500}, "log": {"level": "debug"}, "max": {"body": {"bytes": 2048}}}}"#.utf8).write(to: URL(fileURLWithPath: file))
        let env = ["NEOSEC_CONFIG_FILE": file, "NEOSEC_MASTER_KEY": masterKey, "NEOSEC_ADMIN_TOKEN": adminToken, "NEOSEC_LOG_LEVEL": "error"]
        let config = try await ServiceConfig.load(service: .token, environment: env)
        #expect(config.port == 9500)
        #expect(config.maximumBodyBytes == 2048)
        #expect(config.logLevel == .error)
    }
}
