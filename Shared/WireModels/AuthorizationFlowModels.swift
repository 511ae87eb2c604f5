/// The login / consent / logout challenge protocol between the Token Service and the
/// Authentication Service (internal calls, SPEC §6).
///
/// The Token Service sends the browser to the Authentication Service with a single-use,
/// short-lived challenge (`login_challenge`, `consent_challenge`, `logout_challenge` query
/// parameter). The Authentication Service reads what the challenge is about, talks to the user,
/// and accepts or rejects it; the Token Service answers with where the browser goes next.
///
/// Internal endpoints on the Token Service (callers: `neosec-authn`):
/// - `POST /internal/login/get`     `ChallengeRef` → `LoginRequestInfo`
/// - `POST /internal/login/accept`  `LoginAccept`  → `RedirectAnswer`
/// - `POST /internal/login/reject`  `ChallengeReject` → `RedirectAnswer`
/// - `POST /internal/consent/get`   `ChallengeRef` → `ConsentRequestInfo`
/// - `POST /internal/consent/accept` `ConsentAccept` → `RedirectAnswer`
/// - `POST /internal/consent/reject` `ChallengeReject` → `RedirectAnswer`
/// - `POST /internal/logout/get`    `ChallengeRef` → `LogoutRequestInfo`
/// - `POST /internal/logout/accept` `ChallengeRef` → `RedirectAnswer` (`redirect_to` may be absent)
/// - `POST /internal/consents/list` `SubjectRef` → `ConsentList`
/// - `POST /internal/consents/revoke` `ConsentRevoke` → `ConsentRevokeAnswer`
///
/// Internal endpoint on the Authentication Service (callers: `neosec-token`):
/// - `POST /internal/userinfo`      `SubjectRef` → `UserClaims`
///
/// Unknown, expired or already used challenges answer 404 `invalid_request`.

/// A challenge, as received by the Authentication Service in the browser's query string.
public struct ChallengeRef: Codable, Sendable, Equatable {
    public var challenge: String
    public init(challenge: String) { self.challenge = challenge }
}

/// What a relying party should show about itself (RFC 7591 display metadata).
public struct ClientDisplay: Codable, Sendable, Equatable {
    public var clientID: String
    public var clientName: String?
    public var logoURI: String?
    public var policyURI: String?
    public var tosURI: String?
    public var clientURI: String?

    public init(clientID: String, clientName: String? = nil, logoURI: String? = nil, policyURI: String? = nil, tosURI: String? = nil, clientURI: String? = nil) {
        self.clientID = clientID
        self.clientName = clientName
        self.logoURI = logoURI
        self.policyURI = policyURI
        self.tosURI = tosURI
        self.clientURI = clientURI
    }

    enum CodingKeys: String, CodingKey {
        case clientID = "client_id"
        case clientName = "client_name"
        case logoURI = "logo_uri"
        case policyURI = "policy_uri"
        case tosURI = "tos_uri"
        case clientURI = "client_uri"
    }
}

/// `POST /internal/login/get`: the authorization request behind a login challenge.
public struct LoginRequestInfo: Codable, Sendable, Equatable {
    public var challenge: String
    public var client: ClientDisplay
    public var scopes: [String]
    /// OpenID Connect `prompt` values (`none`, `login`, `consent`, `select_account`).
    public var prompt: [String]
    /// OpenID Connect `max_age` in seconds: a session older than this must re-authenticate.
    public var maxAge: Int?
    public var loginHint: String?
    public var acrValues: [String]
    /// Seconds since 1970 at which the challenge stops being accepted.
    public var expiresAt: Int64

    public init(challenge: String, client: ClientDisplay, scopes: [String], prompt: [String], maxAge: Int?, loginHint: String?, acrValues: [String], expiresAt: Int64) {
        self.challenge = challenge
        self.client = client
        self.scopes = scopes
        self.prompt = prompt
        self.maxAge = maxAge
        self.loginHint = loginHint
        self.acrValues = acrValues
        self.expiresAt = expiresAt
    }

    enum CodingKeys: String, CodingKey {
        case challenge, client, scopes, prompt
        case maxAge = "max_age"
        case loginHint = "login_hint"
        case acrValues = "acr_values"
        case expiresAt = "expires_at"
    }
}

/// `POST /internal/login/accept`: the user behind the challenge is authenticated.
public struct LoginAccept: Codable, Sendable, Equatable {
    public var challenge: String
    /// The account's stable subject identifier.
    public var subject: String
    /// When the user last actively authenticated (seconds since 1970).
    public var authTime: Int64
    public var acr: String
    /// RFC 8176 method references: `pwd`, `otp`, `mfa`, `fed`.
    public var amr: [String]
    /// The Authentication Service session id (public, not the cookie value): the ID token's `sid`.
    public var sessionID: String

    public init(challenge: String, subject: String, authTime: Int64, acr: String, amr: [String], sessionID: String) {
        self.challenge = challenge
        self.subject = subject
        self.authTime = authTime
        self.acr = acr
        self.amr = amr
        self.sessionID = sessionID
    }

    enum CodingKeys: String, CodingKey {
        case challenge, subject, acr, amr
        case authTime = "auth_time"
        case sessionID = "sid"
    }
}

/// `POST /internal/{login,consent}/reject`: the user (or the Authentication Service) refused.
/// `error` is an OAuth / OpenID Connect authorization error code: `access_denied`,
/// `login_required`, `consent_required`, `interaction_required`, `account_selection_required`.
public struct ChallengeReject: Codable, Sendable, Equatable {
    public var challenge: String
    public var error: String
    public var errorDescription: String?

    public init(challenge: String, error: String, errorDescription: String? = nil) {
        self.challenge = challenge
        self.error = error
        self.errorDescription = errorDescription
    }

    enum CodingKeys: String, CodingKey {
        case challenge, error
        case errorDescription = "error_description"
    }
}

/// Where the browser goes next (a 303 from the Authentication Service). Absent after a logout
/// without a registered `post_logout_redirect_uri`: the Authentication Service shows its own page.
public struct RedirectAnswer: Codable, Sendable, Equatable {
    public var redirectTo: String?
    public init(redirectTo: String?) { self.redirectTo = redirectTo }

    enum CodingKeys: String, CodingKey {
        case redirectTo = "redirect_to"
    }
}

/// `POST /internal/consent/get`: what the user is asked to allow.
public struct ConsentRequestInfo: Codable, Sendable, Equatable {
    public var challenge: String
    public var client: ClientDisplay
    public var subject: String
    /// Requested scopes, in request order; the user may grant a subset.
    public var scopes: [String]
    /// The resource servers (RFC 8707 audiences) the tokens will be good for.
    public var audiences: [String]
    public var expiresAt: Int64

    public init(challenge: String, client: ClientDisplay, subject: String, scopes: [String], audiences: [String], expiresAt: Int64) {
        self.challenge = challenge
        self.client = client
        self.subject = subject
        self.scopes = scopes
        self.audiences = audiences
        self.expiresAt = expiresAt
    }

    enum CodingKeys: String, CodingKey {
        case challenge, client, subject, scopes, audiences
        case expiresAt = "expires_at"
    }
}

/// `POST /internal/consent/accept`: the user allowed `grantedScopes` (a non-empty subset of
/// the requested scopes). `subject` must match the consent challenge's subject.
public struct ConsentAccept: Codable, Sendable, Equatable {
    public var challenge: String
    public var subject: String
    public var grantedScopes: [String]

    public init(challenge: String, subject: String, grantedScopes: [String]) {
        self.challenge = challenge
        self.subject = subject
        self.grantedScopes = grantedScopes
    }

    enum CodingKeys: String, CodingKey {
        case challenge, subject
        case grantedScopes = "granted_scopes"
    }
}

/// `POST /internal/logout/get`: an RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0).
public struct LogoutRequestInfo: Codable, Sendable, Equatable {
    public var challenge: String
    /// The client that asked, when known (from `id_token_hint` or `client_id`).
    public var client: ClientDisplay?
    /// The subject of the `id_token_hint`, when one was given.
    public var subject: String?
    public var sessionID: String?

    public init(challenge: String, client: ClientDisplay?, subject: String?, sessionID: String?) {
        self.challenge = challenge
        self.client = client
        self.subject = subject
        self.sessionID = sessionID
    }

    enum CodingKeys: String, CodingKey {
        case challenge, client, subject
        case sessionID = "sid"
    }
}

/// A user, by subject.
public struct SubjectRef: Codable, Sendable, Equatable {
    public var subject: String
    public init(subject: String) { self.subject = subject }
}

/// One remembered consent: what `subject` allowed `client`.
public struct ConsentGrant: Codable, Sendable, Equatable {
    public var client: ClientDisplay
    public var scopes: [String]
    public var grantedAt: Int64

    public init(client: ClientDisplay, scopes: [String], grantedAt: Int64) {
        self.client = client
        self.scopes = scopes
        self.grantedAt = grantedAt
    }

    enum CodingKeys: String, CodingKey {
        case client, scopes
        case grantedAt = "granted_at"
    }
}

public struct ConsentList: Codable, Sendable, Equatable {
    public var consents: [ConsentGrant]
    public init(consents: [ConsentGrant]) { self.consents = consents }
}

/// `POST /internal/consents/revoke`: forget the consent and revoke every token the client
/// holds for the subject (access and refresh).
public struct ConsentRevoke: Codable, Sendable, Equatable {
    public var subject: String
    public var clientID: String

    public init(subject: String, clientID: String) {
        self.subject = subject
        self.clientID = clientID
    }

    enum CodingKeys: String, CodingKey {
        case subject
        case clientID = "client_id"
    }
}

public struct ConsentRevokeAnswer: Codable, Sendable, Equatable {
    public var revoked: Bool
    public init(revoked: Bool) { self.revoked = revoked }
}

/// `POST /internal/userinfo` on the Authentication Service: the stored OpenID Connect claims of
/// an account (Core §5.1), unfiltered; the Token Service releases only what the token's scopes
/// allow. `found` is false for an unknown or disabled account.
public struct UserClaims: Codable, Sendable, Equatable {
    public var found: Bool
    public var claims: [String: ClaimValue]

    public init(found: Bool, claims: [String: ClaimValue]) {
        self.found = found
        self.claims = claims
    }
}

/// A JSON claim value: string, boolean, number, or an object of strings (the `address` claim).
public enum ClaimValue: Codable, Sendable, Equatable {
    case string(String)
    case bool(Bool)
    case number(Int64)
    case object([String: String])

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Int64.self) {
            self = .number(value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else {
            self = .object(try container.decode([String: String].self))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .string(let value): try container.encode(value)
        case .bool(let value): try container.encode(value)
        case .number(let value): try container.encode(value)
        case .object(let value): try container.encode(value)
        }
    }
}

/// `POST /internal/password/verify` on the Authentication Service (callers: `neosec-token`):
/// the resource owner password credentials grant (RFC 6749 §4.3) for clients explicitly allowed
/// it. The Authentication Service applies its throttling and constant-work rules; an account
/// with a second factor never passes this way.
public struct PasswordVerifyRequest: Codable, Sendable, Equatable {
    public var username: String
    public var password: String
    public var clientID: String

    public init(username: String, password: String, clientID: String) {
        self.username = username
        self.password = password
        self.clientID = clientID
    }

    enum CodingKeys: String, CodingKey {
        case username, password
        case clientID = "client_id"
    }
}

/// Answer of `POST /internal/password/verify`. `valid` false covers unknown users, wrong
/// passwords, disabled or throttled accounts and accounts with a second factor alike.
public struct PasswordVerifyAnswer: Codable, Sendable, Equatable {
    public var valid: Bool
    public var subject: String?
    public var authTime: Int64?
    public var acr: String?
    public var amr: [String]?

    public init(valid: Bool, subject: String? = nil, authTime: Int64? = nil, acr: String? = nil, amr: [String]? = nil) {
        self.valid = valid
        self.subject = subject
        self.authTime = authTime
        self.acr = acr
        self.amr = amr
    }

    enum CodingKeys: String, CodingKey {
        case valid, subject, acr, amr
        case authTime = "auth_time"
    }
}

/// `POST /internal/sessions/ended` on the Token Service (callers: `neosec-authn`): the user
/// signed out of session `sid`. Tokens issued under it stop working, except refresh tokens
/// granted with `offline_access` (OpenID Connect Core §11: access while the user is away).
public struct SessionEnded: Codable, Sendable, Equatable {
    public var subject: String
    public var sessionID: String

    public init(subject: String, sessionID: String) {
        self.subject = subject
        self.sessionID = sessionID
    }

    enum CodingKeys: String, CodingKey {
        case subject
        case sessionID = "sid"
    }
}

public struct SessionEndedAnswer: Codable, Sendable, Equatable {
    public var revoked: Int
    public init(revoked: Int) { self.revoked = revoked }
}

/// `POST /internal/device/verify` (Authentication Service → Token Service, RFC 8628 §3.3): the
/// user code typed on the device page. The answer is a `RedirectAnswer` to the login challenge
/// of that device authorization; an unknown, expired or decided code is 404.
public struct DeviceVerifyRequest: Codable, Sendable, Equatable {
    public var userCode: String

    public init(userCode: String) { self.userCode = userCode }

    enum CodingKeys: String, CodingKey {
        case userCode = "user_code"
    }
}

// MARK: Backchannel permission requests (Authentication Service account page → Token Service)

/// `POST /internal/backchannel/pending`: the requests waiting for `subject`'s decision.
public struct BackchannelPendingRequest: Codable, Sendable, Equatable {
    public var subject: String
    public init(subject: String) { self.subject = subject }
}

public struct BackchannelPendingItem: Codable, Sendable, Equatable {
    public var id: String
    public var client: ClientDisplay
    public var scopes: [String]
    public var bindingMessage: String?
    public var expiresAt: Int64

    public init(id: String, client: ClientDisplay, scopes: [String], bindingMessage: String?, expiresAt: Int64) {
        self.id = id
        self.client = client
        self.scopes = scopes
        self.bindingMessage = bindingMessage
        self.expiresAt = expiresAt
    }

    enum CodingKeys: String, CodingKey {
        case id, client, scopes
        case bindingMessage = "binding_message"
        case expiresAt = "expires_at"
    }
}

public struct BackchannelPendingList: Codable, Sendable, Equatable {
    public var requests: [BackchannelPendingItem]
    public init(requests: [BackchannelPendingItem]) { self.requests = requests }
}

/// `POST /internal/backchannel/decide`: the signed-in user's decision, with their session's
/// authentication (it becomes the tokens' `auth_time`, `acr`, `amr`, `sid`).
public struct BackchannelDecision: Codable, Sendable, Equatable {
    public var id: String
    public var subject: String
    public var allow: Bool
    public var authTime: Int64
    public var acr: String
    public var amr: [String]
    public var sessionID: String

    public init(id: String, subject: String, allow: Bool, authTime: Int64, acr: String, amr: [String], sessionID: String) {
        self.id = id
        self.subject = subject
        self.allow = allow
        self.authTime = authTime
        self.acr = acr
        self.amr = amr
        self.sessionID = sessionID
    }

    enum CodingKeys: String, CodingKey {
        case id, subject, allow, acr, amr
        case authTime = "auth_time"
        case sessionID = "session_id"
    }
}

public struct BackchannelDecisionAnswer: Codable, Sendable, Equatable {
    public var done: Bool
    public init(done: Bool) { self.done = done }
}
