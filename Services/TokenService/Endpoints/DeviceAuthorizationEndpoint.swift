import Foundation
import Hummingbird
import JOSE
import ServiceKit
import Storage
import WireModels

/// RFC 8628 user codes: 8 characters of 20 consonants (no vowels, so no words; no look-alikes),
/// shown as `XXXX-XXXX`: 20^8 ≈ 2^34.6. Entry on the device page is throttled (§5.1) and codes
/// live `deviceCodeLifetime` seconds.
enum UserCode {
    static let alphabet = Array("BCDFGHJKLMNPQRSTVWXZ")
    static let length = 8

    static func generate() -> String {
        var generator = SystemRandomNumberGenerator()
        return String((0..<length).map { _ in alphabet[Int.random(in: 0..<alphabet.count, using: &generator)] })
    }

    static func display(_ code: String) -> String { String(code.prefix(4)) + "-" + String(code.dropFirst(4)) }

    /// What the user typed, case and dashes and spaces ignored; nil when it cannot be a code.
    static func normalize(_ typed: String) -> String? {
        guard typed.utf8.count <= 32 else { return nil }
        let code = String(typed.uppercased().filter { $0 != "-" && $0 != " " })
        guard code.count == length, code.allSatisfy(alphabet.contains) else { return nil }
        return code
    }

    static func hash(_ normalized: String) -> String { CredentialHash.hex("user_code:" + normalized) }
}

/// What a device authorization asked for.
struct DeviceRequest: Codable, Sendable {
    var scopes: [String]
    var resources: [String]
}

/// `POST /oauth2/device_authorization` (RFC 8628 §3.1, §3.2): the client authenticates as at the
/// token endpoint (a public client names itself with `client_id`) and must be registered for the
/// device grant. Answers `device_code` (`neo_dc_…`, stored as SHA-256), `user_code`,
/// `verification_uri` (the Authentication Service's `/device`), `verification_uri_complete`,
/// `expires_in` and `interval`.
struct DeviceAuthorizationEndpoint {
    static let path = "/oauth2/device_authorization"
    static let devicePrefix = "neo_dc_"

    let authenticator: ClientAuthenticator
    let devices: any DeviceAuthorizationStore
    let time: any TimeSource
    let lifetime: Int
    let interval: Int
    let verificationURI: String
    let bodyLimit: Int

    struct Answer: Encodable {
        var deviceCode: String
        var userCode: String
        var verificationURI: String
        var verificationURIComplete: String
        var expiresIn: Int
        var interval: Int

        enum CodingKeys: String, CodingKey {
            case interval
            case deviceCode = "device_code"
            case userCode = "user_code"
            case verificationURI = "verification_uri"
            case verificationURIComplete = "verification_uri_complete"
            case expiresIn = "expires_in"
        }
    }

    func register(on router: Router<NeoSecRequestContext>) {
        router.post(RouterPath(stringLiteral: Self.path)) { request, context in
            var request = request
            let form = try await request.formParameters(limit: bodyLimit, repeatable: ["resource"])
            let client = try await authenticator.authenticate(request, form: form)
            guard client.grantTypes.contains(GrantType.deviceCode) else {
                throw OAuthError(.unauthorizedClient, description: "client is not registered for the device authorization grant")
            }
            let scopes = try GrantRules.scopes(requested: form["scope"], allowed: client.scopes)
            let resources = form.values("resource")
            if !resources.isEmpty { _ = try GrantRules.audiences(requested: resources, client: client) }
            let deviceCode = Self.devicePrefix + RandomToken.make(bytes: 32)
            let now = time.epochSeconds
            let requestJSON = String(decoding: try JSONEncoder().encode(DeviceRequest(scopes: scopes, resources: resources)), as: UTF8.self)
            var userCode: String?
            for _ in 0..<5 {
                let candidate = UserCode.generate()
                let authorization = DeviceAuthorization(
                    deviceCodeHash: CredentialHash.hex(deviceCode), userCodeHash: UserCode.hash(candidate), clientID: client.id,
                    requestJSON: requestJSON, interval: Int64(interval), expiresAt: now + Int64(lifetime)
                )
                if try await devices.insert(authorization, now: now) {
                    userCode = candidate
                    break
                }
            }
            guard let userCode else { throw OAuthError(.temporarilyUnavailable, status: .serviceUnavailable, description: "try again") }
            context.logger.info("device authorization started", metadata: ["client_id": .string(client.id)])
            let shown = UserCode.display(userCode)
            return try Response.json(
                Answer(
                    deviceCode: deviceCode, userCode: shown, verificationURI: verificationURI,
                    verificationURIComplete: verificationURI + "?user_code=" + shown, expiresIn: lifetime, interval: interval
                )
            )
        }
    }
}
