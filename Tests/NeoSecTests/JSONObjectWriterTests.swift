import Foundation
import JOSE
import Testing
import WireModels

@testable import TokenService

/// The hand-written JSON of the token endpoint's hot path must say exactly what `JSONEncoder`
/// says: a client or a resource server decoding it must not be able to tell the difference.
@Suite("Hand-written JSON of token responses and access token claims")
struct JSONObjectWriterTests {
    /// Strings an attacker controls in part (client ids, scopes, subjects) with every character
    /// class that needs escaping.
    static let awkward = [
        "", "plain", "quote\"inside", "back\\slash", "slash/ok", "new\nline", "tab\tand\rreturn", "\u{0}nul", "\u{1F}unit",
        "\u{7F}del", "é ü 漢字", "emoji 🔐", "\u{2028}line separator", "</script>", "{\"json\":1}",
    ]

    @Test func stringsRoundTripThroughAStrictParser() throws {
        for value in Self.awkward {
            var writer = JSONObjectWriter()
            writer.field("v", value)
            writer.field("list", [value, "x"])
            let bytes = writer.finish()
            let object = try #require(try JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any])
            #expect(object["v"] as? String == value)
            #expect(object["list"] as? [String] == [value, "x"])
            #expect(!bytes.contains(where: { $0 < 0x20 }), "control characters must be escaped")
        }
    }

    @Test func emptyObjectAndScalars() throws {
        #expect(JSONObjectWriter().finish() == Array("{}".utf8))
        var writer = JSONObjectWriter()
        writer.field("n", Int64(-42))
        writer.field("absent", nil as String?)
        writer.field("b", true as Bool?)
        writer.field("i", 7 as Int?)
        writer.field("raw", json: Array(#"{"a":[1]}"#.utf8))
        #expect(String(decoding: writer.finish(), as: UTF8.self) == #"{"n":-42,"b":true,"i":7,"raw":{"a":[1]}}"#)
    }

    @Test func tokenResponseMatchesJSONEncoder() throws {
        var full = TokenResponse(accessToken: "neo_at_\"x\\", tokenType: "DPoP", expiresIn: 300, scope: "openid profile")
        full.refreshToken = "neo_rt_abc"
        full.refreshTokenExpiresIn = 86400
        full.refreshTokenIssuedAt = 1_780_000_000
        full.refreshCount = 3
        full.idToken = "a.b.c"
        full.issuedTokenType = "urn:ietf:params:oauth:token-type:access_token"
        full.pct = "neo_pct_1"
        full.upgraded = false
        let minimal = TokenResponse(accessToken: "t", tokenType: "Bearer", expiresIn: 60, scope: nil)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        for response in [full, minimal] {
            #expect(response.jsonBytes == Array(try encoder.encode(response)))
            #expect(try JSONDecoder().decode(TokenResponse.self, from: Data(response.jsonBytes)) == response)
        }
    }

    @Test func accessTokenClaimsDecodeToTheSameClaims() throws {
        let plain = AccessTokenClaims(
            iss: "https://as.example/", sub: "user\"1", aud: Audience(["https://api.example"]), exp: 2_000_000_000, iat: 1_999_999_700,
            jti: "j1", clientID: "client/1", scope: "read write", authTime: nil, acr: nil, cnf: nil, permissions: nil, act: nil
        )
        var rich = plain
        rich.aud = Audience(["https://a.example", "https://b.example"])
        rich.scope = nil
        rich.authTime = 1_999_999_000
        rich.acr = "urn:neosec:acr:mfa"
        rich.cnf = Confirmation(jkt: "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I")
        rich.permissions = [UMAPermission(resourceID: "r1", resourceScopes: ["view"], exp: 2_000_000_000)]
        rich.act = .object(["sub": .string("actor")])
        for claims in [plain, rich] {
            let bytes = try claims.jsonBytes()
            #expect(try JSONDecoder().decode(AccessTokenClaims.self, from: Data(bytes)) == claims)
            let object = try #require(try JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any])
            let reference = try #require(try JSONSerialization.jsonObject(with: JSONEncoder().encode(claims)) as? [String: Any])
            #expect(Set(object.keys) == Set(reference.keys))
        }
        // A single audience is a string (RFC 7519 §4.1.3), as the Encodable conformance writes it.
        let object = try #require(try JSONSerialization.jsonObject(with: Data(try plain.jsonBytes())) as? [String: Any])
        #expect(object["aud"] as? String == "https://api.example")
    }

    @Test func signedPayloadVerifies() async throws {
        let key = try await SigningKey.generate(.es256)
        let claims = AccessTokenClaims(
            iss: "https://as.example/", sub: "s", aud: Audience(["https://api.example"]), exp: 4_000_000_000, iat: 1_700_000_000,
            jti: "j", clientID: "c", scope: nil, authTime: nil, acr: nil, cnf: nil, permissions: nil, act: nil
        )
        let token = try key.sign(payload: try claims.jsonBytes(), type: "at+jwt")
        let verified = try await JWS.verify(token, as: AccessTokenClaims.self, keys: [key.kid: key.verificationKey], acceptedTypes: ["at+jwt"])
        #expect(verified.claims == claims)
    }

    /// `claims_json` of a stored token: what introspection and userinfo read back.
    @Test func storedExtraClaimsReadBackAsWritten() throws {
        #expect(try AccessTokenIssuer.extraClaims(jti: nil, authTime: nil, acr: nil, confirmation: nil, permissions: nil) == nil)
        #expect(try AccessTokenIssuer.extraClaims(jti: nil, authTime: nil, acr: nil, confirmation: Confirmation(), permissions: nil) == nil)
        #expect(try AccessTokenIssuer.extraClaims(jti: "j", authTime: nil, acr: nil, confirmation: nil, permissions: nil) == #"{"jti":"j"}"#)
        for awkward in Self.awkward {
            let json = try #require(
                try AccessTokenIssuer.extraClaims(
                    jti: awkward, authTime: 1_999_999_000, acr: awkward, confirmation: Confirmation(jkt: awkward, x5tS256: "x5t"),
                    permissions: [UMAPermission(resourceID: awkward, resourceScopes: [awkward, "edit"], exp: 2_000_000_000), UMAPermission(resourceID: "r2", resourceScopes: [])],
                    act: .object(["sub": .string(awkward), "act": .object(["sub": .string("first")])])
                )
            )
            let read = TokenIntrospector.claims(json)
            #expect(read["jti"] == .string(awkward))
            #expect(read["auth_time"] == .integer(1_999_999_000))
            #expect(read["acr"] == .string(awkward))
            #expect(read["cnf"] == .object(["jkt": .string(awkward), "x5t#S256": .string("x5t")]))
            #expect(read["act"] == .object(["sub": .string(awkward), "act": .object(["sub": .string("first")])]))
            #expect(
                read["permissions"]
                    == .array([
                        .object(["resource_id": .string(awkward), "resource_scopes": .array([.string(awkward), .string("edit")]), "exp": .integer(2_000_000_000)]),
                        .object(["resource_id": .string("r2"), "resource_scopes": .array([])]),
                    ])
            )
            #expect(read.count == 6)
            // Keys in sorted order, as `JSONSerialization` with `.sortedKeys` wrote them before.
            let keys = ["\"acr\"", "\"act\"", "\"auth_time\"", "\"cnf\"", "\"jti\"", "\"permissions\""]
            let positions = keys.compactMap { json.range(of: $0)?.lowerBound }
            #expect(positions.count == keys.count && positions == positions.sorted())
        }
    }

}
