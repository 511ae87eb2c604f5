public import Foundation
public import HTTPTypes
public import Hummingbird
public import WireModels

/// The one protocol error type of NeoSec: RFC 6749 §5.2 token-endpoint errors, RFC 6750 resource
/// errors (with their `WWW-Authenticate` challenge), RFC 7591 registration errors, and the codes of
/// the extensions we implement. Rendered as JSON with `Cache-Control: no-store`.
///
/// `description` is developer-written text (it may name a parameter); it never carries a value
/// from the request nor an underlying error's message.
public struct OAuthError: Error, Sendable, Equatable, HTTPResponseError {
    /// An error code as registered (RFC 6749 §11.4 and the extension specs).
    public struct Code: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
        public let rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        public static let invalidRequest = Code(rawValue: "invalid_request")
        public static let invalidClient = Code(rawValue: "invalid_client")
        public static let invalidGrant = Code(rawValue: "invalid_grant")
        public static let unauthorizedClient = Code(rawValue: "unauthorized_client")
        public static let unsupportedGrantType = Code(rawValue: "unsupported_grant_type")
        public static let invalidScope = Code(rawValue: "invalid_scope")
        public static let accessDenied = Code(rawValue: "access_denied")
        public static let unsupportedResponseType = Code(rawValue: "unsupported_response_type")
        public static let serverError = Code(rawValue: "server_error")
        public static let temporarilyUnavailable = Code(rawValue: "temporarily_unavailable")
        public static let invalidToken = Code(rawValue: "invalid_token")
        public static let insufficientScope = Code(rawValue: "insufficient_scope")
        public static let invalidRedirectURI = Code(rawValue: "invalid_redirect_uri")
        public static let invalidClientMetadata = Code(rawValue: "invalid_client_metadata")
        /// RFC 8628 §3.5: the device grant's polling answers.
        public static let authorizationPending = Code(rawValue: "authorization_pending")
        public static let slowDown = Code(rawValue: "slow_down")
        public static let expiredToken = Code(rawValue: "expired_token")
        /// OpenID CIBA §13.
        public static let invalidBindingMessage = Code(rawValue: "invalid_binding_message")
        /// RFC 7591 §3.2.2: software statements.
        public static let invalidSoftwareStatement = Code(rawValue: "invalid_software_statement")
        public static let unapprovedSoftwareStatement = Code(rawValue: "unapproved_software_statement")
        public static let invalidTarget = Code(rawValue: "invalid_target")
        public static let unsupportedTokenType = Code(rawValue: "unsupported_token_type")
        /// RFC 9449 §5, §7.1: a DPoP proof that fails a check.
        public static let invalidDPoPProof = Code(rawValue: "invalid_dpop_proof")
        /// RFC 9449 §8, §9: the proof must carry the nonce given in `DPoP-Nonce`.
        public static let useDPoPNonce = Code(rawValue: "use_dpop_nonce")
        /// UMA 2.0 Grant §3.3.6: the grant's own outcomes that are not RPTs.
        public static let needInfo = Code(rawValue: "need_info")
        public static let requestSubmitted = Code(rawValue: "request_submitted")
        public static let requestDenied = Code(rawValue: "request_denied")
        /// UMA 2.0 Federated Authorization §3.2, §4.3: protection API errors.
        public static let invalidResourceID = Code(rawValue: "invalid_resource_id")
        public static let notFound = Code(rawValue: "not_found")
        public static let unsupportedMethodType = Code(rawValue: "unsupported_method_type")
    }

    /// A `WWW-Authenticate` challenge (RFC 9110 §11.6.1; RFC 6750 §3 for Bearer).
    public struct Challenge: Sendable, Equatable {
        public var scheme: String
        public var realm: String
        /// RFC 6750 §3 `scope`: the scope needed (with `insufficient_scope`).
        public var scope: String?
        /// RFC 9449 §7.1 `algs`: the DPoP proof algorithms accepted (DPoP challenges only).
        public var algs: String?
        /// UMA 2.0 Federated Authorization §5.2 / Grant §3.2: the `UMA` scheme's `as_uri` and
        /// permission `ticket`.
        public var asURI: String?
        public var ticket: String?

        public init(scheme: String, realm: String, scope: String? = nil, algs: String? = nil, asURI: String? = nil, ticket: String? = nil) {
            self.scheme = scheme
            self.realm = realm
            self.scope = scope
            self.algs = algs
            self.asURI = asURI
            self.ticket = ticket
        }
    }

    public var code: Code
    public var status: HTTPResponse.Status
    public var errorDescription: String?
    public var challenge: Challenge?
    /// RFC 6750 §3: a request without any credentials gets the challenge but no error code.
    public var omitsCodeInChallenge: Bool
    /// Further challenges, each its own `WWW-Authenticate` field without an error code (a
    /// resource server accepting both Bearer and DPoP names both, RFC 9449 §7.1).
    public var otherChallenges: [Challenge] = []
    /// A fresh `DPoP-Nonce` to send with the error (RFC 9449 §8, §9).
    public var dpopNonce: String?
    /// UMA 2.0 Grant §3.3.6 members of the error object (`ticket`, `required_claims`, …).
    public var uma: UMAErrorExtras?

    public init(_ code: Code, status: HTTPResponse.Status = .badRequest, description: String? = nil, challenge: Challenge? = nil) {
        self.code = code
        self.status = status
        self.errorDescription = description
        self.challenge = challenge
        self.omitsCodeInChallenge = false
    }

    // MARK: Common cases

    public static func invalidRequest(_ description: String? = nil) -> OAuthError { OAuthError(.invalidRequest, description: description) }
    public static func invalidGrant(_ description: String? = nil) -> OAuthError { OAuthError(.invalidGrant, description: description) }
    public static func invalidScope(_ description: String? = nil) -> OAuthError { OAuthError(.invalidScope, description: description) }

    /// RFC 6749 §5.2: 401 naming the HTTP authentication scheme we support (Basic), whichever
    /// method the client tried: RFC 9110 §15.5.2 says every 401 MUST carry a challenge.
    public static func invalidClient(_ description: String? = "client authentication failed", realm: String) -> OAuthError {
        OAuthError(.invalidClient, status: .unauthorized, description: description, challenge: Challenge(scheme: "Basic", realm: realm))
    }

    /// RFC 6750 §3.1 `invalid_token`, 401 with a Bearer challenge.
    public static func invalidToken(_ description: String? = nil, realm: String, scheme: String = "Bearer") -> OAuthError {
        OAuthError(.invalidToken, status: .unauthorized, description: description, challenge: Challenge(scheme: scheme, realm: realm))
    }

    /// RFC 6750 §3: no credentials at all — 401, challenge without an error code.
    public static func missingToken(realm: String, scheme: String = "Bearer") -> OAuthError {
        var error = OAuthError(.invalidRequest, status: .unauthorized, description: nil, challenge: Challenge(scheme: scheme, realm: realm))
        error.omitsCodeInChallenge = true
        return error
    }

    /// Anything unexpected: 500 and nothing about why.
    public static let serverError = OAuthError(.serverError, status: .internalServerError, description: nil)

    public static let notFound = OAuthError(.invalidRequest, status: .notFound, description: "unknown endpoint")
    public static let methodNotAllowed = OAuthError(.invalidRequest, status: .methodNotAllowed, description: "method not allowed")
    public static let payloadTooLarge = OAuthError(.invalidRequest, status: .contentTooLarge, description: "request body too large")
    public static let unsupportedMediaType = OAuthError(.invalidRequest, status: .unsupportedMediaType, description: "unsupported content type")

    // MARK: Rendering

    public var body: OAuthErrorBody { OAuthErrorBody(error: code.rawValue, errorDescription: errorDescription, uma: uma) }

    /// The `WWW-Authenticate` value, with quoted-string escaping of every parameter.
    public var wwwAuthenticate: String? {
        guard let challenge else { return nil }
        var parameters = ["realm=\(Self.quoted(challenge.realm))"]
        if let asURI = challenge.asURI { parameters.append("as_uri=\(Self.quoted(asURI))") }
        if let ticket = challenge.ticket { parameters.append("ticket=\(Self.quoted(ticket))") }
        if !omitsCodeInChallenge {
            parameters.append("error=\(Self.quoted(code.rawValue))")
            if let errorDescription { parameters.append("error_description=\(Self.quoted(errorDescription))") }
            if let scope = challenge.scope { parameters.append("scope=\(Self.quoted(scope))") }
        }
        if let algs = challenge.algs { parameters.append("algs=\(Self.quoted(algs))") }
        return "\(challenge.scheme) " + parameters.joined(separator: ", ")
    }

    /// The values of the further challenges, realm and `algs` only.
    public var otherWWWAuthenticate: [String] {
        otherChallenges.map { challenge in
            var parameters = ["realm=\(Self.quoted(challenge.realm))"]
            if let algs = challenge.algs { parameters.append("algs=\(Self.quoted(algs))") }
            return "\(challenge.scheme) " + parameters.joined(separator: ", ")
        }
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        makeResponse()
    }

    public func makeResponse() -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        headers[.cacheControl] = "no-store"
        headers[.pragma] = "no-cache"
        if let wwwAuthenticate { headers.append(HTTPField(name: .wwwAuthenticate, value: wwwAuthenticate)) }
        for other in otherWWWAuthenticate { headers.append(HTTPField(name: .wwwAuthenticate, value: other)) }
        if let dpopNonce { headers.append(HTTPField(name: .dpopNonce, value: dpopNonce)) }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let data = (try? encoder.encode(body)) ?? Data(#"{"error":"server_error"}"#.utf8)
        return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
    }

    /// RFC 9110 §5.6.4 quoted-string; characters outside %x20-7E (which RFC 6750 §3 forbids in
    /// these attributes anyway) are dropped.
    static func quoted(_ value: String) -> String {
        var result = "\""
        for scalar in value.unicodeScalars where scalar.value >= 0x20 && scalar.value < 0x7F {
            if scalar == "\"" || scalar == "\\" { result.append("\\") }
            result.unicodeScalars.append(scalar)
        }
        return result + "\""
    }
}
