import ArgumentParser
import NIOHTTP1

extension Admin {
    /// `neosec admin clients …`: the Token Service's `/admin/clients` API.
    struct Clients: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "OAuth clients (Token Service).",
            subcommands: [List.self, Get.self, Create.self, Update.self, Delete.self, RotateSecret.self]
        )

        struct List: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "List the registered clients (never a secret).")
            @OptionGroup var connection: Connection
            func run() async throws { print(try await connection.call(.GET, "/admin/clients")) }
        }

        struct Get: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Show one client (never its secret).")
            @OptionGroup var connection: Connection
            @Argument(help: "The client_id.") var id: String
            func run() async throws { print(try await connection.call(.GET, try Admin.path("clients", id))) }
        }

        struct Create: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Register a client from RFC 7591 metadata (plus an optional client_id).",
                discussion: "The answer carries the generated client_secret, shown this once."
            )
            @OptionGroup var connection: Connection
            @Option(help: ArgumentHelp("The client metadata: a JSON file, or - for standard input.", valueName: "file")) var json: String
            func run() async throws { print(try await connection.call(.POST, "/admin/clients", json: try Admin.readJSONObject(json))) }
        }

        struct Update: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Replace a client's metadata.")
            @OptionGroup var connection: Connection
            @Argument(help: "The client_id.") var id: String
            @Option(help: ArgumentHelp("The new client metadata: a JSON file, or - for standard input.", valueName: "file")) var json: String
            func run() async throws {
                print(try await connection.call(.PUT, try Admin.path("clients", id), json: try Admin.readJSONObject(json)))
            }
        }

        struct Delete: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Delete a client.")
            @OptionGroup var connection: Connection
            @Argument(help: "The client_id.") var id: String
            func run() async throws { _ = try await connection.call(.DELETE, try Admin.path("clients", id)) }
        }

        struct RotateSecret: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                commandName: "rotate-secret", abstract: "Issue a new client secret (shown this once); the old one stops working."
            )
            @OptionGroup var connection: Connection
            @Argument(help: "The client_id.") var id: String
            func run() async throws { print(try await connection.call(.POST, try Admin.path("clients", id, "secret"))) }
        }
    }
}
