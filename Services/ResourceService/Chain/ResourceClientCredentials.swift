import Foundation
import ServiceKit

/// The resource server's own client at the Token Service (`NEOSEC_RESOURCE_UMA_CLIENT_ID` and its
/// secret, from the environment or the secret file `neosec up` writes), for the PAT of the UMA
/// protection API and for token exchange. The secret is read when needed, never logged.
struct ResourceClientCredentials: Sendable {
    let clientID: String
    let secret: Secret?
    let secretFile: String?

    init(config: ServiceConfig) {
        clientID = config.umaClientID
        secret = config.umaClientSecret
        secretFile = config.umaClientSecretFile
    }

    func clientSecret() throws -> Secret? {
        if let secret { return secret }
        guard let secretFile, let data = FileManager.default.contents(atPath: secretFile) else { return nil }
        let value = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        return value.isEmpty ? nil : Secret(value)
    }

    /// `Authorization: Basic …` with the id and secret form-encoded first (RFC 6749 §2.3.1).
    func basicAuthorization() throws -> String? {
        guard let secret = try clientSecret() else { return nil }
        let credentials = Self.formEncode(clientID) + ":" + Self.formEncode(secret.value)
        return "Basic " + Data(credentials.utf8).base64EncodedString()
    }

    static func formEncode(_ text: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return text.addingPercentEncoding(withAllowedCharacters: allowed) ?? text
    }

    /// The Token Service's token endpoint, as this server's configuration names it.
    static func tokenEndpoint(_ config: ServiceConfig) -> String {
        let issuer = config.issuer.absoluteString.hasSuffix("/") ? String(config.issuer.absoluteString.dropLast()) : config.issuer.absoluteString
        let token = config.serviceURLs[.token]?.absoluteString ?? issuer
        return (token.hasSuffix("/") ? String(token.dropLast()) : token) + "/oauth2/token"
    }
}
