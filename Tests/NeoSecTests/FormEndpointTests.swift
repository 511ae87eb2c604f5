import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import NeoSecTesting
import ServiceKit
import Storage
import Testing
import WireModels

/// A service built on the kit with one form endpoint that writes what it receives, to show that
/// bad form input gets RFC 6749 errors and leaves nothing in storage.
struct FormProbeService: NeoSecService {
    static let name = ServiceName.resource
    static let migrations = [
        Migration(id: "probe-001") { m in ["CREATE TABLE \(m.table("probe")) (name TEXT NOT NULL, value TEXT NOT NULL)"] }
    ]
    let database: any SQLDatabase

    init(environment: ServiceEnvironment) async throws { database = environment.database }

    func addRoutes(to router: Router<NeoSecRequestContext>, environment: ServiceEnvironment) {
        let limit = environment.config.maximumBodyBytes
        router.post("/probe") { request, _ in
            var request = request
            let form = try await request.formParameters(limit: limit, repeatable: ["resource"])
            try await database.transaction(form.pairs.map { SQLStatement("INSERT INTO \(database.table("probe")) (name, value) VALUES (?, ?)", [.text($0.name), .text($0.value)]) })
            return Response(status: .created)
        }
        router.get("/probe") { request, _ in
            let query = try request.queryParameters()
            return try Response.json(["count": query.pairs.count])
        }
    }
}

@Suite("Form endpoints on the kit")
struct FormEndpointTests {
    func run(_ test: @escaping @Sendable (any TestClientProtocol, any SQLDatabase) async throws -> Void) async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let config = ServiceConfig.forTesting(.resource, dataDirectory: directory.path, maximumBodyBytes: 4096)
        let (app, environment) = try await ServiceRuntime.buildApplication(FormProbeService.self, config: config, options: RuntimeOptions(logSink: .capturing()))
        try await app.test(.router) { client in try await test(client, environment.database) }
        try await environment.database.close()
    }

    static func rows(_ db: any SQLDatabase) async throws -> Int64 {
        try await db.query("SELECT COUNT(*) AS n FROM \(db.table("probe"))").first!.integer("n")
    }

    @Test func wellFormedFormIsAccepted() async throws {
        try await run { client, db in
            try await client.execute(
                uri: "/probe", method: .post, headers: [.contentType: "application/x-www-form-urlencoded; charset=UTF-8"],
                body: ByteBuffer(string: "a=1&resource=https%3A%2F%2Fx&resource=https%3A%2F%2Fy")
            ) { #expect($0.status == .created) }
            #expect(try await Self.rows(db) == 3)
        }
    }

    enum BadForm: String, CaseIterable, CustomTestStringConvertible {
        case duplicated, invalidUTF8, badPercent, wrongContentType, latin1Charset, oversized, tooMany
        var testDescription: String { rawValue }
    }

    @Test(arguments: BadForm.allCases)
    func badFormsAreRefusedAndChangeNothing(_ kind: BadForm) async throws {
        try await run { client, db in
            var contentType = "application/x-www-form-urlencoded"
            var body = ByteBuffer(string: "a=1")
            var status = HTTPResponse.Status.badRequest
            switch kind {
            case .duplicated: body = ByteBuffer(string: "a=1&b=2&a=3")
            case .invalidUTF8: body = ByteBuffer(bytes: Array("a=".utf8) + [0xFF, 0xFE])
            case .badPercent: body = ByteBuffer(string: "a=%G1")
            case .wrongContentType: contentType = "application/json"
            case .latin1Charset: contentType = "application/x-www-form-urlencoded; charset=ISO-8859-1"
            case .tooMany: body = ByteBuffer(string: (0..<100).map { "p\($0)=v" }.joined(separator: "&"))
            case .oversized:
                body = ByteBuffer(string: "a=" + String(repeating: "x", count: 5000))
                status = .contentTooLarge
            }
            try await client.execute(uri: "/probe", method: .post, headers: [.contentType: contentType], body: body) { response in
                #expect(response.status == status)
                let error = try JSONDecoder().decode(OAuthErrorBody.self, from: Data(buffer: response.body))
                #expect(error.error == "invalid_request")
                #expect(response.headers[.cacheControl] == "no-store")
            }
            #expect(try await Self.rows(db) == 0)
        }
    }

    @Test func duplicatedQueryParameterIsRefused() async throws {
        try await run { client, _ in
            try await client.execute(uri: "/probe?state=a&state=b", method: .get) { #expect($0.status == .badRequest) }
            try await client.execute(uri: "/probe?state=a&x=b", method: .get) { #expect($0.status == .ok) }
        }
    }

    @Test func tooLongRequestTargetIs414() async throws {
        try await run { client, _ in
            try await client.execute(uri: "/probe?x=" + String(repeating: "a", count: 9000), method: .get) {
                #expect($0.status == .uriTooLong)
            }
        }
    }
}
