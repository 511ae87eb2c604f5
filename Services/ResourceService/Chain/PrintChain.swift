import AsyncHTTPClient
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import ServiceKit
import Storage
import WireModels

/// Chained authorization inside one domain (RFC 8693 delegation): this resource server calls the
/// print service — another `neosec-resource`, whose audience is its own base URL — on the
/// caller's behalf. It exchanges the caller's access token at the Token Service for one
/// audienced to the print service, with scope `documents:read` at most, authenticating as its
/// own client; the Token Service names that client in `act`. The caller's token is never
/// forwarded, and the exchanged one is used once and dropped.
struct PrintChain: Sendable {
    static let exchangeGrant = "urn:ietf:params:oauth:grant-type:token-exchange"
    static let accessTokenType = "urn:ietf:params:oauth:token-type:access_token"

    let tokenEndpoint: String
    let printService: String
    let credentials: ResourceClientCredentials
    let http: HTTPClient

    struct Refused: Error {
        let status: Int
        let error: String
    }

    /// RFC 8693 §2.1 with the caller's token as `subject_token`; nil answer fields are failures.
    func exchange(_ subjectToken: String) async throws -> String {
        guard let authorization = try credentials.basicAuthorization() else { throw Refused(status: 503, error: "no client secret configured") }
        let form = [
            ("grant_type", Self.exchangeGrant), ("subject_token", subjectToken), ("subject_token_type", Self.accessTokenType),
            ("audience", printService), ("scope", DocumentsEndpoint.read),
        ].map { "\($0.0)=\(ResourceClientCredentials.formEncode($0.1))" }.joined(separator: "&")
        var request = HTTPClientRequest(url: tokenEndpoint)
        request.method = .POST
        request.headers.add(name: "Authorization", value: authorization)
        request.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
        request.body = .bytes(ByteBuffer(string: form))
        let response = try await http.execute(request, timeout: .seconds(10))
        let body = try await response.body.collect(upTo: 64 * 1024)
        let object = (try? JSONSerialization.jsonObject(with: Data(buffer: body))) as? [String: Any] ?? [:]
        guard response.status == .ok, let token = object["access_token"] as? String else {
            throw Refused(status: Int(response.status.code), error: object["error"] as? String ?? "unexpected answer")
        }
        return token
    }

    func print(_ document: DocumentsEndpoint.Document, token: String) async throws -> (Int, Data) {
        var request = HTTPClientRequest(url: printService + PrintEndpoint.path)
        request.method = .POST
        request.headers.add(name: "Authorization", value: "Bearer " + token)
        request.headers.add(name: "Content-Type", value: "application/json")
        request.body = .bytes(ByteBuffer(bytes: try JSONEncoder().encode(["title": document.title, "content": document.content])))
        let response = try await http.execute(request, timeout: .seconds(10))
        let body = try await response.body.collect(upTo: 64 * 1024)
        return (Int(response.status.code), Data(buffer: body))
    }
}

/// `POST /api/print` (scope `documents:read`, audience = this server): the print service's one
/// route. It prints nothing; it answers who the job is for and who asked, as the token says —
/// `sub`, `client_id` and the `act` chain of a delegated token.
struct PrintEndpoint {
    static let path = "/api/print"

    let authenticator: AccessTokenVerifier
    let bodyLimit: Int

    struct Job: Encodable {
        var jobID: String
        var title: String
        var pages: Int
        var printedFor: String
        var clientID: String
        var act: JSONValue?

        enum CodingKeys: String, CodingKey {
            case title, pages, act
            case jobID = "job_id"
            case printedFor = "printed_for"
            case clientID = "client_id"
        }
    }

    struct Submission: Decodable {
        var title: String
        var content: String
    }

    func register(on router: Router<NeoSecRequestContext>) {
        router.post(RouterPath(stringLiteral: Self.path)) { request, context in
            let caller = try await authenticator.authenticate(request, certificateThumbprint: await context.clientCertificateThumbprint())
            try authenticator.require(DocumentsEndpoint.read, of: caller)
            var request = request
            let submission = try await request.jsonBody(Submission.self, limit: bodyLimit)
            guard (1...200).contains(submission.title.count), submission.content.utf8.count <= 32 * 1024 else {
                throw OAuthError.invalidRequest("title must be 1 to 200 characters, content at most 32 KiB")
            }
            context.logger.info("print job accepted", metadata: ["sub": .string(caller.subject), "client_id": .string(caller.clientID)])
            let job = Job(
                jobID: RandomToken.make(bytes: 8), title: submission.title, pages: max(1, (submission.content.count + 2_999) / 3_000),
                printedFor: caller.subject, clientID: caller.clientID, act: caller.act
            )
            return try Response.json(job, status: .created)
        }
    }
}
