import ArgumentParser
import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

/// `neosec admin …`: the admin API from the command line.
struct Admin: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Manage a running NeoSec (keys, and more as the API grows).", subcommands: [Keys.self])

    struct Connection: ParsableArguments {
        @Option(help: "The Token Service's base URL (the issuer).")
        var issuer = ProcessInfo.processInfo.environment["NEOSEC_ISSUER"] ?? "http://127.0.0.1:9000"

        @Option(name: .customLong("data-dir"), help: "Where to find admin.token when NEOSEC_ADMIN_TOKEN is not set.")
        var dataDirectory = ProcessInfo.processInfo.environment["NEOSEC_DATA_DIR"] ?? "./.neosec"

        func adminToken() throws -> String {
            if let token = ProcessInfo.processInfo.environment["NEOSEC_ADMIN_TOKEN"], !token.isEmpty { return token }
            guard let data = FileManager.default.contents(atPath: dataDirectory + "/admin.token") else {
                throw ValidationError("set NEOSEC_ADMIN_TOKEN (or run from the directory holding .neosec/admin.token)")
            }
            return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        }

        func call(_ method: HTTPMethod, _ path: String) async throws -> String {
            var request = HTTPClientRequest(url: issuer.trimmingCharacters(in: CharacterSet(charactersIn: "/")) + path)
            request.method = method
            request.headers.add(name: "Authorization", value: "Bearer \(try adminToken())")
            let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
            let body = String(buffer: try await response.body.collect(upTo: 1 << 20))
            guard response.status.code < 300 else {
                throw ValidationError("\(method.rawValue) \(path) answered \(response.status.code): \(body)")
            }
            return body
        }
    }

    struct Keys: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Token-signing keys.", subcommands: [List.self, Rotate.self])

        struct List: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "List the published signing keys.")
            @OptionGroup var connection: Connection
            func run() async throws { print(try await connection.call(.GET, "/admin/keys")) }
        }

        struct Rotate: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Activate new signing keys; the previous ones stay published until their tokens expire."
            )
            @OptionGroup var connection: Connection
            func run() async throws { print(try await connection.call(.POST, "/admin/keys/rotate")) }
        }
    }
}
