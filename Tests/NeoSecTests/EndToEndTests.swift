import AsyncHTTPClient
import Foundation
import Hummingbird
import HummingbirdTesting
import JOSE
import NIOCore
import NeoSecTesting
import ServiceKit
import Storage
import Testing
import WireModels

/// End-to-end: the built executables, started on loopback, driven over HTTP as a client would.
@Suite("End to end over the built executables", .serialized)
struct EndToEndTests {
    static func get(_ url: String) async -> (status: Int, body: String)? {
        var request = HTTPClientRequest(url: url)
        request.method = .GET
        guard let response = try? await HTTPClient.shared.execute(request, timeout: .seconds(3)),
            let body = try? await response.body.collect(upTo: 1 << 20)
        else { return nil }
        return (Int(response.status.code), String(buffer: body))
    }

    static func post(_ url: String, bearer: String, json: String) async throws -> (status: Int, body: String, challenge: String?) {
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "Authorization", value: "Bearer \(bearer)")
        request.headers.add(name: "Content-Type", value: "application/json")
        request.body = .bytes(ByteBuffer(string: json))
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
        let body = try await response.body.collect(upTo: 1 << 20)
        return (Int(response.status.code), String(buffer: body), response.headers.first(name: "WWW-Authenticate"))
    }

    /// The Token Service executable accepts an internal call with a valid service token and
    /// refuses (401, nothing stored) forged, expired, replayed, mis-addressed and unlisted ones.
    /// The test plays the Authentication and UMA services: it publishes their internal JWKS over
    /// HTTP, which the executable fetches as it would from the real services.
    @Test func internalCallAuthenticationBetweenProcesses() async throws {
        let authn = try await ServiceTokenForge.make()
        let uma = try await ServiceTokenForge.make()
        let router = Router()
        router.get("/authn/internal/jwks.json") { _, _ in try Response.json(JWKSet(keys: [authn.key.publicJWK])) }
        router.get("/uma/internal/jwks.json") { _, _ in try Response.json(JWKSet(keys: [uma.key.publicJWK])) }
        let peers = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)))

        try await peers.test(.live) { client in
            let directory = try TemporaryDirectory()
            defer { directory.remove() }
            let port = try freeLoopbackPort()
            let token = try ChildProcess(
                executable: builtExecutable("neosec-token"),
                arguments: [],
                environment: [
                    "NEOSEC_TOKEN_PORT": "\(port)",
                    "NEOSEC_DATA_DIR": directory.path,
                    "NEOSEC_AUTHN_URL": "http://127.0.0.1:\(client.port!)/authn",
                    "NEOSEC_UMA_URL": "http://127.0.0.1:\(client.port!)/uma",
                    "NEOSEC_TOKEN_INTERNAL_CALLERS": "authn",
                    "NEOSEC_LOG_LEVEL": "info",
                ],
                logDirectory: directory.path,
                name: "token"
            )
            let base = "http://127.0.0.1:\(port)"
            let ready = await ChildProcess.eventually(timeout: .seconds(30)) { await Self.get("\(base)/health/ready")?.status == 200 }
            #expect(ready, "neosec-token did not become ready: \(token.stderr)")

            let url = "\(base)/internal/revocations"
            let body = #"{"subject":"alice","reason":"logout"}"#
            let now = Int64(Date().timeIntervalSince1970)

            // The first call makes the executable fetch the caller's JWKS from this test process,
            // whose executor may be busy with the other suites running in parallel: a fetch that
            // times out is a 401 that records nothing, so a fresh valid token is tried again.
            var valid = ""
            let accepted = await ChildProcess.eventually(timeout: .seconds(60)) {
                guard let token = try? await authn.token(from: .authn, to: .token, now: Int64(Date().timeIntervalSince1970)) else { return false }
                valid = token
                return (try? await Self.post(url, bearer: token, json: body).status) == 200
            }
            #expect(accepted, "a valid service token was never accepted: \(token.stderr)")

            let impostor = try await SigningKey.generate(.es256)
            let forgedBody = try await impostor.sign(ServiceTokenClaims(iss: "neosec-authn", aud: "neosec-token", iat: now, exp: now + 30, jti: "f"), type: ServiceToken.type)
            let forged = [valid.split(separator: ".")[0], forgedBody.split(separator: ".")[1], forgedBody.split(separator: ".")[2]].joined(separator: ".")
            let refused: [(String, String)] = [
                ("forged", forged),
                ("expired", try await authn.token(from: .authn, to: .token, now: now, issuedAt: now - 120)),
                ("replayed", valid),
                ("other audience", try await authn.token(from: .authn, to: .introspect, now: now)),
                ("caller not allow-listed", try await uma.token(from: .uma, to: .token, now: now)),
            ]
            for (name, bad) in refused {
                let answer = try await Self.post(url, bearer: bad, json: #"{"subject":"mallory","reason":"logout"}"#)
                #expect(answer.status == 401, "\(name)")
                #expect(answer.body.contains(#""error":"invalid_token""#), "\(name)")
                #expect(answer.challenge?.hasPrefix("Bearer realm=") == true, "\(name)")
            }

            // Nothing changed but the one accepted call: read the store the executable wrote.
            let store = try SQLiteDatabase(path: directory.path + "/token.sqlite", readOnly: true)
            let subjects = try await store.query("SELECT subject FROM subject_revocations").map { try $0.text("subject") }
            #expect(subjects == ["alice"])
            try await store.close()

            // No token ever reaches the logs.
            #expect(!token.stderr.contains(valid))
            #expect(!token.stderr.contains("eyJ"))

            token.signal(SIGTERM)
            #expect(await token.waitForExit(timeout: .seconds(15)) == 0)
        }
    }

    func upEnvironment(ports: [Int], directory: TemporaryDirectory) -> [String: String] {
        var environment = ["NEOSEC_LOG_LEVEL": "warning"]
        for (service, port) in zip(ServiceName.allCases, ports) {
            environment["NEOSEC_\(service.shortName.uppercased())_PORT"] = "\(port)"
        }
        return environment
    }

    /// `neosec up` starts all five services, each ready (the command itself fails if any is not
    /// ready within 10 s); Ctrl-C stops them all and leaves no process behind; a second run
    /// reuses the data (same signing keys).
    @Test func upStartsEverythingAndStopsCleanly() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let ports = try ServiceName.allCases.map { _ in try freeLoopbackPort() }
        var firstKids: [String] = []
        for run in 1...2 {
            let up = try ChildProcess(
                executable: builtExecutable("neosec"),
                arguments: ["up", "--data-dir", directory.path + "/data", "--ready-timeout", "10"],
                environment: upEnvironment(ports: ports, directory: directory),
                logDirectory: directory.path,
                name: "up-\(run)"
            )
            let started = await ChildProcess.eventually(timeout: .seconds(30)) { up.stdout.contains("NeoSec is up") || !up.process.isRunning }
            #expect(started && up.process.isRunning, "neosec up did not come up: \(up.stdout) \(up.stderr)")
            #expect(up.stdout.contains("Admin token:"))
            #expect(up.stdout.contains("client_id=demo-service"), "demo fixtures are seeded and printed")
            for port in ports {
                #expect(await Self.get("http://127.0.0.1:\(port)/health/ready")?.status == 200, "port \(port)")
            }
            let jwks = await Self.get("http://127.0.0.1:\(ports[0])/.well-known/jwks.json")?.body ?? ""
            let kids = try JSONDecoder().decode(JWKSet.self, from: Data(jwks.utf8)).keys.compactMap(\.kid)
            #expect(kids.count == 3)
            if run == 1 { firstKids = kids } else { #expect(kids == firstKids, "a second run reuses the stored keys") }
            // The seeded service client works, with the secret printed at start-up.
            let secret = up.stdout.split(separator: "\n").first { $0.contains("client_id=demo-service") }?
                .split(separator: " ").first { $0.hasPrefix("client_secret=") }?.dropFirst("client_secret=".count)
            var request = HTTPClientRequest(url: "http://127.0.0.1:\(ports[0])/oauth2/token")
            request.method = .POST
            request.headers.add(name: "Authorization", value: "Basic " + Data("demo-service:\(secret ?? "")".utf8).base64EncodedString())
            request.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
            request.body = .bytes(ByteBuffer(string: "grant_type=client_credentials"))
            let tokenResponse = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
            #expect(tokenResponse.status == .ok, "run \(run)")

            up.signal(SIGINT)
            #expect(await up.waitForExit(timeout: .seconds(20)) == 0, "\(up.stderr)")
            #expect(up.stdout.contains("all services stopped"))
            let leftovers = await ChildProcess.eventually(timeout: .seconds(5)) {
                ChildProcess.processes(withEnvironmentContaining: "NEOSEC_DATA_DIR=\(directory.path)/data").isEmpty
            }
            #expect(leftovers, "processes left behind")
            for port in ports {
                #expect(!isListening(port), "port \(port) still answers")
            }
        }
    }

    @Test func upRefusesATakenPortAndSaysWhich() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let ports = try ServiceName.allCases.map { _ in try freeLoopbackPort() }
        // Hold the UMA port.
        let holder = Application(router: Router(), configuration: .init(address: .hostname("127.0.0.1", port: ports[2])))
        let task = Task { try await holder.run() }
        defer { task.cancel() }
        _ = await ChildProcess.eventually(timeout: .seconds(10)) { await Self.get("http://127.0.0.1:\(ports[2])/") != nil }
        let up = try ChildProcess(
            executable: builtExecutable("neosec"),
            arguments: ["up", "--data-dir", directory.path + "/data"],
            environment: upEnvironment(ports: ports, directory: directory),
            logDirectory: directory.path,
            name: "up"
        )
        #expect(await up.waitForExit(timeout: .seconds(20)) == 2)
        #expect(up.stderr.contains("port \(ports[2])"))
        #expect(up.stderr.contains("UMA"))
        #expect(ChildProcess.processes(withEnvironmentContaining: "NEOSEC_DATA_DIR=\(directory.path)/data").isEmpty)
    }

    /// A service whose port is taken says so, with the address and the system's reason.
    @Test func serviceOnATakenPortSaysWhereAndWhy() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let port = try freeLoopbackPort()
        let holder = Application(router: Router(), configuration: .init(address: .hostname("127.0.0.1", port: port)))
        let task = Task { try await holder.run() }
        defer { task.cancel() }
        _ = await ChildProcess.eventually(timeout: .seconds(10)) { isListening(port) }
        let process = try ChildProcess(
            executable: builtExecutable("neosec-uma"),
            arguments: [],
            environment: ["NEOSEC_DATA_DIR": directory.path, "NEOSEC_UMA_PORT": "\(port)"],
            logDirectory: directory.path,
            name: "uma"
        )
        #expect(await process.waitForExit(timeout: .seconds(20)) == 1)
        #expect(process.stderr.contains("neosec-uma: failed (listening on 127.0.0.1:\(port))"), "\(process.stderr)")
        #expect(process.stderr.contains("Address already in use"), "\(process.stderr)")
    }

    /// Production mode refuses to start without its secrets, naming the setting but not a value.
    @Test func productionModeRefusesMissingSecrets() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let process = try ChildProcess(
            executable: builtExecutable("neosec-token"),
            arguments: [],
            environment: [
                "NEOSEC_MODE": "production", "NEOSEC_DATA_DIR": directory.path, "NEOSEC_TOKEN_PORT": "\(try freeLoopbackPort())",
                "NEOSEC_MASTER_KEY": Base64URL.encode([UInt8](repeating: 3, count: 32)), "NEOSEC_ADMIN_TOKEN": "short",
            ],
            logDirectory: directory.path,
            name: "prod"
        )
        #expect(await process.waitForExit(timeout: .seconds(20)) == 78)
        #expect(process.stderr.contains("NEOSEC_ADMIN_TOKEN"))
        #expect(!process.stderr.contains("short\n"))
        #expect(!FileManager.default.fileExists(atPath: directory.path + "/admin.token"))
    }
}
