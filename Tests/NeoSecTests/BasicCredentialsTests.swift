import Foundation
import ServiceKit
import Testing

@testable import TokenService

/// RFC 6749 §2.3.1 / RFC 7617: the Basic credentials of the token endpoint, decoded from bytes.
@Suite("Client authentication: Basic credentials")
struct BasicCredentialsTests {
    static func basic(_ id: String, _ secret: String) -> String { Data("\(id):\(secret)".utf8).base64EncodedString() }

    /// The scheme is matched without case and must be followed by one space; nothing else
    /// passes for it (the token endpoint and the introspection cache both rely on this).
    @Test func schemeIsRecognisedExactly() {
        for header in ["Basic abc", "basic abc", "BASIC abc", "bAsIc "] { #expect(AuthorizationHeader.hasScheme(header, "basic"), "\(header)") }
        for header in ["", "Basic", "Basi abc", "Basicabc", "Basic\u{0}abc", "Basic\tabc", "Bearer abc", " Basic abc", "Bas1c abc", "Basi\u{3}c abc"] {
            #expect(!AuthorizationHeader.hasScheme(header, "basic"), "\(header)")
        }
        #expect(AuthorizationHeader.hasScheme("Bearer x", "bearer"))
        #expect(!AuthorizationHeader.hasScheme("Basic x", "bearer"))
    }

    @Test func idAndSecretAreFormDecoded() throws {
        let decoded = try #require(ClientAuthenticator.decodeBasic(Self.basic("my%20client", "s%3Acret+x")))
        #expect(decoded.id == "my client")
        #expect(decoded.secret == "s:cret x")
        // The first colon separates; later ones belong to the secret.
        let colons = try #require(ClientAuthenticator.decodeBasic(Self.basic("id", "a:b:c")))
        #expect(colons.id == "id" && colons.secret == "a:b:c")
        let empty = try #require(ClientAuthenticator.decodeBasic(Self.basic("id", "")))
        #expect(empty.secret == "")
        let unicode = try #require(ClientAuthenticator.decodeBasic(Self.basic("kl%C3%A9", "%F0%9F%94%90")))
        #expect(unicode.id == "klé" && unicode.secret == "🔐")
    }

    @Test func malformedCredentialsAreRefused() {
        let refused = [
            Self.basic("", "secret"),  // no id
            Data("no-colon".utf8).base64EncodedString(),
            Self.basic("id", "bad%zz"),  // broken percent-encoding
            Self.basic("id", "nul%00"),  // control character
            Data([0x69, 0x64, 0x3A, 0xFF, 0xFE]).base64EncodedString(),  // not UTF-8
            "not base64!", "aWQ6c2VjcmV0dA", // unpadded
            String(repeating: "A", count: 4100),
        ]
        for value in refused {
            #expect(ClientAuthenticator.decodeBasic(value) == nil, "\(value.prefix(40))")
        }
    }
}
