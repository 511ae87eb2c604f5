import ArgumentParser
import Foundation
import NIOHTTP1

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

extension Admin {
    /// `neosec admin accounts …`: the Authentication Service's `/admin/accounts` API (`--authn`).
    /// Passwords never come from the command line, which other users can read in `ps`.
    struct Accounts: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "User accounts (Authentication Service).",
            subcommands: [List.self, Get.self, Create.self, Disable.self, Enable.self, SetPassword.self, Unlock.self]
        )

        struct List: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "List the accounts.")
            @OptionGroup var connection: Connection
            func run() async throws { print(try await connection.call(.GET, "/admin/accounts", base: connection.authn)) }
        }

        struct Get: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Show one account.")
            @OptionGroup var connection: Connection
            @Argument(help: "The account id (its OpenID Connect sub).") var id: String
            func run() async throws { print(try await connection.call(.GET, try Admin.path("accounts", id), base: connection.authn)) }
        }

        struct Create: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Create an account.",
                discussion: "The password is prompted for without echo, or read from a pipe with --password-stdin."
            )
            @OptionGroup var connection: Connection
            @Option(help: "1 to 64 characters of a-z, 0-9, '.', '_', '@', '-' (stored lower-cased).") var username: String
            @Flag(help: "Read the password from standard input (its first line) instead of prompting.") var passwordStdin = false
            @Option(name: .customLong("claims-json"), help: ArgumentHelp("OpenID Connect claims: a file holding a JSON object.", valueName: "file"))
            var claimsFile: String?

            func validate() throws {
                if claimsFile == "-" { throw ValidationError("--claims-json takes a file: standard input is for the password") }
            }

            func run() async throws {
                var body: [String: Any] = ["username": username]
                if let claimsFile {
                    let claims = try Admin.readJSONObject(claimsFile)
                    body["claims"] = try JSONSerialization.jsonObject(with: claims)
                }
                body["password"] = try Admin.readPassword(fromStandardInput: passwordStdin)
                let json = try JSONSerialization.data(withJSONObject: body)
                print(try await connection.call(.POST, "/admin/accounts", json: json, base: connection.authn))
            }
        }

        struct Disable: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Disable an account: its sessions end and its tokens are revoked.")
            @OptionGroup var connection: Connection
            @Argument(help: "The account id.") var id: String
            func run() async throws { print(try await connection.call(.POST, try Admin.path("accounts", id, "disable"), base: connection.authn)) }
        }

        struct Enable: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Enable a disabled account.")
            @OptionGroup var connection: Connection
            @Argument(help: "The account id.") var id: String
            func run() async throws { print(try await connection.call(.POST, try Admin.path("accounts", id, "enable"), base: connection.authn)) }
        }

        struct SetPassword: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                commandName: "set-password", abstract: "Set an account's password: its sessions end and its tokens are revoked.",
                discussion: "The password is prompted for without echo, or read from a pipe with --password-stdin."
            )
            @OptionGroup var connection: Connection
            @Argument(help: "The account id.") var id: String
            @Flag(help: "Read the password from standard input (its first line) instead of prompting.") var passwordStdin = false

            func run() async throws {
                let path = try Admin.path("accounts", id, "password")
                let password = try Admin.readPassword(fromStandardInput: passwordStdin)
                let json = try JSONSerialization.data(withJSONObject: ["password": password])
                print(try await connection.call(.POST, path, json: json, base: connection.authn))
            }
        }

        struct Unlock: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Clear an account's failed sign-in lock.")
            @OptionGroup var connection: Connection
            @Argument(help: "The account id.") var id: String
            func run() async throws { print(try await connection.call(.POST, try Admin.path("accounts", id, "unlock"), base: connection.authn)) }
        }
    }

    /// A password from standard input only, never from argv: on a terminal, prompted twice
    /// without echo; otherwise the first line of the pipe, and only with `--password-stdin`.
    static func readPassword(fromStandardInput allowed: Bool) throws -> String {
        let password: String
        if isatty(STDIN_FILENO) != 0 {
            password = try prompt("Password: ")
            guard try prompt("Retype password: ") == password else { throw AdminError("the passwords do not match") }
        } else {
            guard allowed else { throw ValidationError("standard input is not a terminal: pass --password-stdin to read the password from it") }
            guard let line = readLine(strippingNewline: true) else { throw AdminError("no password on standard input") }
            password = line
        }
        guard !password.isEmpty else { throw AdminError("empty password") }
        return password
    }

    /// `getpass(3)`: reads from the controlling terminal with echo off. Its buffer is wiped after.
    private static func prompt(_ text: String) throws -> String {
        guard let buffer = getpass(text) else { throw AdminError("cannot read a password from the terminal") }
        defer { memset(buffer, 0, strlen(buffer)) }
        return String(cString: buffer)
    }
}
