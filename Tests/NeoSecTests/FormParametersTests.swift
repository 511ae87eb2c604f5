import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import ServiceKit
import Testing

@Suite("Form and query parameters (RFC 6749 §3.1)")
struct FormParametersTests {
    func parse(_ text: String, repeatable: Set<String> = []) throws(OAuthError) -> FormParameters {
        try FormParameters(parsing: Array(text.utf8), repeatable: repeatable)
    }

    @Test func decodesPercentAndPlus() throws {
        let form = try parse("grant_type=authorization_code&redirect_uri=https%3A%2F%2Fa.example%2Fcb&scope=openid+profile")
        #expect(form["grant_type"] == "authorization_code")
        #expect(form["redirect_uri"] == "https://a.example/cb")
        #expect(form["scope"] == "openid profile")
    }

    @Test func emptyValuesAreTreatedAsOmitted() throws {
        let form = try parse("a=&b=1&a=")
        #expect(form["a"] == nil)
        #expect(form.names == ["b"])
    }

    @Test func duplicatedParameterIsInvalidRequest() {
        #expect(throws: OAuthError.invalidRequest("duplicated parameter")) { try parse("code=1&code=2") }
    }

    @Test func repeatableParametersAreKept() throws {
        let form = try parse("resource=https%3A%2F%2Fa&resource=https%3A%2F%2Fb", repeatable: ["resource"])
        #expect(form.values("resource") == ["https://a", "https://b"])
    }

    @Test(arguments: ["a=%zz", "a=%4", "a=%", "a=%C3%28", "a=%FF", "a=%00", "=x"])
    func malformedInputIsInvalidRequest(_ text: String) {
        #expect(throws: OAuthError.self) { try parse(text) }
    }

    @Test func rawInvalidUTF8IsRefused() {
        #expect(throws: OAuthError.self) { try FormParameters(parsing: [0x61, 0x3D, 0xC3, 0x28]) }
    }

    @Test func tooManyParametersIsRefused() {
        let text = (0..<65).map { "p\($0)=1" }.joined(separator: "&")
        #expect(throws: OAuthError.invalidRequest("too many parameters")) { try parse(text) }
    }

    @Test func overlongValueIsRefused() {
        #expect(throws: OAuthError.self) { try parse("a=" + String(repeating: "x", count: 17 * 1024)) }
    }

    @Test func requireNamesTheMissingParameter() throws {
        let form = try parse("a=1")
        #expect(throws: OAuthError.invalidRequest("missing parameter: code")) { try form.require("code") }
    }
}

@Suite("Request media types")
struct MediaTypeTests {
    static func request(contentType: String?) -> Request {
        var fields = HTTPFields()
        if let contentType { fields[.contentType] = contentType }
        return Request(head: HTTPRequest(method: .post, scheme: "http", authority: "x", path: "/", headerFields: fields), body: RequestBody(buffer: ByteBuffer()))
    }

    /// The byte-level check answers as the string comparison does, for every shape of header.
    @Test func hasMediaTypeAgreesWithMediaType() {
        let headers: [String?] = [
            nil, "", " ", ";", "application/json", "Application/JSON", " application/json ", "\tapplication/json;charset=utf-8",
            "application/json ; charset=utf-8", "application/jsonx", "application/jso", "application/x-www-form-urlencoded",
            "APPLICATION/X-WWW-FORM-URLENCODED;charset=UTF-8", "application/x-www-form-urlencoded, application/json", "text/plain",
        ]
        for header in headers {
            let request = Self.request(contentType: header)
            for expected in ["application/json", "application/x-www-form-urlencoded", ""] {
                #expect(request.hasMediaType(expected) == ((request.mediaType ?? "\u{0}") == expected), "\(header ?? "nil") vs \(expected)")
            }
        }
    }

    /// `HTTPFields.value(_:)` reads as HTTPTypes' subscript does, repeated fields included.
    @Test func headerValueAgreesWithTheSubscript() {
        var fields = HTTPFields()
        fields.append(HTTPField(name: .accept, value: "a/b"))
        fields.append(HTTPField(name: .authorization, value: "Basic x"))
        fields.append(HTTPField(name: .accept, value: "c/d"))
        fields.append(HTTPField(name: .cookie, value: "a=1"))
        fields.append(HTTPField(name: .cookie, value: "b=2"))
        for name in [HTTPField.Name.accept, .authorization, .cookie, .contentType, HTTPField.Name("AUTHORIZATION")!] {
            #expect(fields.value(name) == fields[name], "\(name)")
        }
        #expect(fields.value(.accept) == "a/b, c/d")
        #expect(fields.value(.cookie) == "a=1; b=2")
        #expect(fields.value(.contentType) == nil)
    }

    /// `HTTPFields.set(_:_:)` leaves the fields as the subscript setter would.
    @Test func headerSetAgreesWithTheSubscript() {
        var base = HTTPFields()
        base.append(HTTPField(name: .accept, value: "a/b"))
        base.append(HTTPField(name: .cacheControl, value: "max-age=1"))
        base.append(HTTPField(name: .cacheControl, value: "private"))
        for (name, value) in [(HTTPField.Name.cacheControl, "no-store"), (.contentType, "application/json"), (.cookie, "a=1; b=2"), (.accept, "c/d")] {
            var ours = base
            var theirs = base
            ours.set(name, value)
            theirs[name] = value
            #expect(ours == theirs, "\(name)")
        }
    }

    @Test func charsetOtherThanUTF8IsRefused() async throws {
        for header in ["application/x-www-form-urlencoded; charset=latin1", "application/x-www-form-urlencoded;CHARSET=\"iso-8859-1\""] {
            var request = Self.request(contentType: header)
            await #expect(throws: OAuthError.self) { _ = try await request.formParameters(limit: 1024) }
        }
        for header in ["application/x-www-form-urlencoded", "application/x-www-form-urlencoded; charset=UTF-8", "application/x-www-form-urlencoded;charset=\"utf-8\""] {
            var request = Self.request(contentType: header)
            _ = try await request.formParameters(limit: 1024)
        }
    }
}

@Suite("OAuth error rendering (RFC 6749 §5.2, RFC 6750 §3)")
struct OAuthErrorTests {
    @Test func bearerChallengeCarriesTheCode() {
        let error = OAuthError.invalidToken("expired", realm: "api")
        #expect(error.wwwAuthenticate == #"Bearer realm="api", error="invalid_token", error_description="expired""#)
        #expect(error.status == .unauthorized)
    }

    @Test func missingTokenChallengeHasNoCode() {
        #expect(OAuthError.missingToken(realm: "api").wwwAuthenticate == #"Bearer realm="api""#)
    }

    @Test func quotedStringsAreEscaped() {
        #expect(OAuthError(.invalidToken, status: .unauthorized, description: #"a"b\c"#, challenge: .init(scheme: "Bearer", realm: "r\n")).wwwAuthenticate
            == #"Bearer realm="r", error="invalid_token", error_description="a\"b\\c""#)
    }

    @Test func responseIsJSONAndNotCached() throws {
        let response = OAuthError.invalidClient(realm: "neosec").makeResponse()
        #expect(response.status == .unauthorized)
        #expect(response.headers[.cacheControl] == "no-store")
        #expect(response.headers[.contentType] == "application/json")
        #expect(response.headers[.wwwAuthenticate]?.hasPrefix("Basic realm=") == true)
    }
}

@Suite("Log redaction")
struct LogRedactionTests {
    @Test func sensitiveKeysAreRedacted() {
        for key in ["password", "client_secret", "access_token", "Authorization", "refresh_token", "code_verifier", "master_key"] {
            #expect(LogRedaction.isSensitiveKey(key), "\(key)")
        }
        #expect(!LogRedaction.isSensitiveKey("request_id"))
        #expect(!LogRedaction.isSensitiveKey("path"))
    }

    @Test func credentialsInTextAreScrubbed() {
        let jwt = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhIn0.c2ln"
        let text = LogRedaction.scrub("got \(jwt) and neo_at_abc123 for alice")
        #expect(!text.contains("eyJ"))
        #expect(!text.contains("neo_at_"))
        #expect(text.contains("alice"))
    }

    /// One key for the request id: Hummingbird's id becomes `request_id`; a caller's id, set as
    /// `request_id` by the middleware, wins and Hummingbird's stays beside it.
    @Test func requestIDIsWrittenAsRequestID() throws {
        let sink = LogSink.capturing()
        var logger = Logging.Logger(label: "t") { JSONLogHandler(label: $0, level: .trace, sink: sink) }
        logger[metadataKey: "hb.request.id"] = "0123abcd"
        logger.info("one")
        logger[metadataKey: "request_id"] = "from-caller"
        logger.info("two")
        let lines = try sink.lines.map { try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] ?? [:] }
        #expect(lines.count == 2)
        #expect(lines[0]["request_id"] as? String == "0123abcd")
        #expect(lines[0]["hb.request.id"] == nil)
        #expect(lines[1]["request_id"] as? String == "from-caller")
        #expect(lines[1]["hb.request.id"] as? String == "0123abcd")
    }

    @Test func handlerNeverWritesSecrets() {
        let sink = LogSink.capturing()
        var logger = Logging.Logger(label: "t") { JSONLogHandler(label: $0, level: .trace, sink: sink) }
        logger[metadataKey: "client_secret"] = "s3cr3t-value"
        logger.info("token neo_rt_0123456789 issued", metadata: ["password": "hunter2", "user": "alice"])
        let line = sink.lines.joined()
        #expect(!line.contains("s3cr3t-value"))
        #expect(!line.contains("hunter2"))
        #expect(!line.contains("neo_rt_0123456789"))
        #expect(line.contains("alice"))
    }
}

import Logging
