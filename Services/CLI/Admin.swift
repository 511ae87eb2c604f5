import ArgumentParser
import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

/// `neosec admin …`: the admin APIs from the command line. Keys and clients are the Token
/// Service's, accounts the Authentication Service's; both take the same admin token.
struct Admin: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Manage a running NeoSec: signing keys, clients and accounts.",
        subcommands: [Keys.self, Clients.self, Accounts.self]
    )

    struct Connection: ParsableArguments {
        @Option(help: "The Token Service's base URL (the issuer): keys and clients.")
        var issuer = ProcessInfo.processInfo.environment["NEOSEC_ISSUER"] ?? "http://127.0.0.1:9000"

        @Option(help: "The Authentication Service's base URL: accounts.")
        var authn = ProcessInfo.processInfo.environment["NEOSEC_AUTHN_URL"] ?? "http://127.0.0.1:9001"

        @Option(name: .customLong("data-dir"), help: "Where to find admin.token when NEOSEC_ADMIN_TOKEN is not set.")
        var dataDirectory = ProcessInfo.processInfo.environment["NEOSEC_DATA_DIR"] ?? "./.neosec"

        func adminToken() throws -> String {
            if let token = ProcessInfo.processInfo.environment["NEOSEC_ADMIN_TOKEN"], !token.isEmpty { return token }
            guard let data = FileManager.default.contents(atPath: dataDirectory + "/admin.token") else {
                throw ValidationError("set NEOSEC_ADMIN_TOKEN (or run from the directory holding .neosec/admin.token)")
            }
            return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        }

        /// Calls `path` on `base` (the issuer unless given), with `json` as the body when given.
        /// Returns the answer, pretty-printed when it is JSON ("" for 204).
        func call(_ method: HTTPMethod, _ path: String, json: Data? = nil, base: String? = nil) async throws -> String {
            var request = HTTPClientRequest(url: (base ?? issuer).trimmingCharacters(in: CharacterSet(charactersIn: "/")) + path)
            request.method = method
            request.headers.add(name: "Authorization", value: "Bearer \(try adminToken())")
            if let json {
                request.headers.add(name: "Content-Type", value: "application/json")
                request.body = .bytes(ByteBuffer(bytes: json))
            }
            let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
            let body = try await response.body.collect(upTo: 4 << 20)
            guard response.status.code < 300 else {
                throw AdminError("\(method.rawValue) \(path) answered \(response.status.code): \(String(buffer: body))")
            }
            return Admin.pretty(Data(body.readableBytesView))
        }
    }

    struct Keys: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Token-signing keys (Token Service).", subcommands: [List.self, Rotate.self])

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

    // MARK: - Helpers shared by the subcommands

    /// `/admin/<collection>/<id>[/<action>]`. NeoSec's ids are URL-safe (`[A-Za-z0-9._-]` for
    /// clients, base64url for accounts): anything else is a typo, refused rather than escaped.
    static func path(_ collection: String, _ id: String, _ action: String? = nil) throws -> String {
        let unreserved = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~".utf8)
        guard id.utf8.allSatisfy(unreserved.contains), (1...255).contains(id.utf8.count), id != ".", id != ".." else {
            throw ValidationError("'\(id)' is not a valid id")
        }
        return "/admin/\(collection)/\(id)" + (action.map { "/\($0)" } ?? "")
    }

    /// The bytes of a JSON object read from `file`, or from standard input for `-`.
    static func readJSONObject(_ file: String) throws -> Data {
        let source = file == "-" ? "standard input" : file
        let data: Data
        if file == "-" {
            data = FileHandle.standardInput.readDataToEndOfFile()
        } else {
            guard let contents = FileManager.default.contents(atPath: file) else { throw AdminError("cannot read \(file)") }
            data = contents
        }
        guard let object = try? JSONSerialization.jsonObject(with: data), object is [String: Any] else {
            throw AdminError("\(source) is not a JSON object")
        }
        return data
    }

    /// JSON re-indented with sorted keys; anything else as it came.
    static func pretty(_ data: Data) -> String {
        guard !data.isEmpty,
            let object = try? JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed]),
            let pretty = try? JSONSerialization.data(
                withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes, .fragmentsAllowed]
            )
        else { return String(decoding: data, as: UTF8.self) }
        return String(decoding: pretty, as: UTF8.self)
    }
}

/// A failure reported in one line, without the usage text `ValidationError` adds.
struct AdminError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
