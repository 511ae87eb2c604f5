/// Wire models of UMA 2.0 shared by the Token Service, the UMA service, the Authentication
/// Service and the resource server: the public error extras of the UMA grant (UMA 2.0 Grant
/// §3.3.6) and the bodies of the internal calls between the services.

/// `claim_token_format` of an OpenID Connect ID token (UMA 2.0 Grant §3.3.1).
public let umaIDTokenFormat = "http://openid.net/specs/openid-connect-core-1_0.html#IDToken"
/// `grant_type` of the UMA grant (UMA 2.0 Grant §3.3.1).
public let umaTicketGrantType = "urn:ietf:params:oauth:grant-type:uma-ticket"

/// One entry of `required_claims` in a `need_info` answer (UMA 2.0 Grant §3.3.6).
public struct UMARequiredClaim: Codable, Sendable, Equatable {
    public var claimTokenFormat: [String]?
    public var claimType: String?
    public var friendlyName: String?
    public var issuer: [String]?
    public var name: String?

    public init(claimTokenFormat: [String]? = nil, claimType: String? = nil, friendlyName: String? = nil, issuer: [String]? = nil, name: String? = nil) {
        self.claimTokenFormat = claimTokenFormat
        self.claimType = claimType
        self.friendlyName = friendlyName
        self.issuer = issuer
        self.name = name
    }

    enum CodingKeys: String, CodingKey {
        case claimTokenFormat = "claim_token_format"
        case claimType = "claim_type"
        case friendlyName = "friendly_name"
        case issuer, name
    }
}

/// The members an UMA grant error carries beside `error` (UMA 2.0 Grant §3.3.6): a fresh
/// `ticket` with `need_info` and `request_submitted`, and what the client should do next.
public struct UMAErrorExtras: Codable, Sendable, Equatable {
    public var ticket: String?
    public var requiredClaims: [UMARequiredClaim]?
    public var redirectUser: Bool?
    public var interval: Int?

    public init(ticket: String? = nil, requiredClaims: [UMARequiredClaim]? = nil, redirectUser: Bool? = nil, interval: Int? = nil) {
        self.ticket = ticket
        self.requiredClaims = requiredClaims
        self.redirectUser = redirectUser
        self.interval = interval
    }

    enum CodingKeys: String, CodingKey {
        case ticket
        case requiredClaims = "required_claims"
        case redirectUser = "redirect_user"
        case interval
    }
}

// MARK: Token Service → UMA service

/// `POST /internal/uma/evaluate`: the Token Service asks whether the permissions of `ticket` may
/// be granted to the requesting party for `clientID`.
public struct UMAEvaluateRequest: Codable, Sendable, Equatable {
    public var ticket: String
    public var clientID: String
    /// The requesting party's `sub`, from a claim token the Token Service verified.
    public var requestingParty: String?
    /// A persisted claims token presented by the client (UMA 2.0 Grant §3.3.3).
    public var pct: String?
    /// Scopes the client asked for with `scope`.
    public var scopes: [String]?
    /// The permissions of the RPT being upgraded, re-checked against current policy.
    public var previous: [UMAPermission]?
    /// The RPT's lifetime; no permission outlives it.
    public var expiresAt: Int64

    public init(ticket: String, clientID: String, requestingParty: String?, pct: String?, scopes: [String]?, previous: [UMAPermission]?, expiresAt: Int64) {
        self.ticket = ticket
        self.clientID = clientID
        self.requestingParty = requestingParty
        self.pct = pct
        self.scopes = scopes
        self.previous = previous
        self.expiresAt = expiresAt
    }

    enum CodingKeys: String, CodingKey {
        case ticket
        case clientID = "client_id"
        case requestingParty = "requesting_party"
        case pct, scopes, previous
        case expiresAt = "expires_at"
    }
}

/// Answer of `/internal/uma/evaluate`. `outcome` is `granted` (with `permissions`,
/// `requesting_party` and perhaps a new `pct`), or the UMA grant error code to answer with.
public struct UMAEvaluateAnswer: Codable, Sendable, Equatable {
    public var outcome: String
    public var permissions: [UMAPermission]?
    public var requestingParty: String?
    public var pct: String?
    public var extras: UMAErrorExtras?

    public init(outcome: String, permissions: [UMAPermission]? = nil, requestingParty: String? = nil, pct: String? = nil, extras: UMAErrorExtras? = nil) {
        self.outcome = outcome
        self.permissions = permissions
        self.requestingParty = requestingParty
        self.pct = pct
        self.extras = extras
    }

    enum CodingKeys: String, CodingKey {
        case outcome, permissions
        case requestingParty = "requesting_party"
        case pct, extras
    }
}

/// `POST /internal/uma/claims`: after claims interaction, the Token Service trades the ticket
/// for a new one bound to the requesting party who signed in (and the client).
public struct UMAClaimsRequest: Codable, Sendable, Equatable {
    public var ticket: String
    public var clientID: String
    public var subject: String

    public init(ticket: String, clientID: String, subject: String) {
        self.ticket = ticket
        self.clientID = clientID
        self.subject = subject
    }

    enum CodingKeys: String, CodingKey {
        case ticket
        case clientID = "client_id"
        case subject
    }
}

/// Answer of `/internal/uma/claims`: the new ticket, or none when the old one was unusable.
public struct UMAClaimsAnswer: Codable, Sendable, Equatable {
    public var ticket: String?
    public init(ticket: String?) { self.ticket = ticket }
}

// MARK: UMA service → Token Service

/// `POST /internal/uma/revoke`: the owner withdrew a grant; every RPT of `requestingParty` stops
/// working (the next one is evaluated against the new policy).
public struct UMARevokeRPTsRequest: Codable, Sendable, Equatable {
    public var requestingParty: String
    public init(requestingParty: String) { self.requestingParty = requestingParty }
    enum CodingKeys: String, CodingKey { case requestingParty = "requesting_party" }
}

public struct UMARevokeRPTsAnswer: Codable, Sendable, Equatable {
    public var revoked: Int
    public init(revoked: Int) { self.revoked = revoked }
}

// MARK: UMA service → Authentication Service

/// `POST /internal/accounts/lookup`: the `sub` of a username, for owner policies naming a
/// requesting party by username.
public struct AccountLookupRequest: Codable, Sendable, Equatable {
    public var username: String
    public init(username: String) { self.username = username }
}

public struct AccountLookupAnswer: Codable, Sendable, Equatable {
    public var subject: String?
    public init(subject: String?) { self.subject = subject }
}

// MARK: Authentication Service (account page) → UMA service

/// `POST /internal/uma/account`: what the owner's account page shows.
public struct UMAAccountRequest: Codable, Sendable, Equatable {
    public var owner: String
    public init(owner: String) { self.owner = owner }
}

/// The owner's resources with their grants, and the requests waiting for a decision.
public struct UMAAccountView: Codable, Sendable, Equatable {
    public struct Resource: Codable, Sendable, Equatable {
        public var id: String
        public var name: String
        public var scopes: [String]
        public var grants: [Grant]
        public init(id: String, name: String, scopes: [String], grants: [Grant]) {
            self.id = id
            self.name = name
            self.scopes = scopes
            self.grants = grants
        }
    }

    public struct Grant: Codable, Sendable, Equatable {
        public var id: String
        public var resourceID: String?
        public var requestingParty: String
        public var scopes: [String]
        public var expiresAt: Int64?
        public init(id: String, resourceID: String? = nil, requestingParty: String, scopes: [String], expiresAt: Int64?) {
            self.id = id
            self.resourceID = resourceID
            self.requestingParty = requestingParty
            self.scopes = scopes
            self.expiresAt = expiresAt
        }
        enum CodingKeys: String, CodingKey {
            case id, scopes
            case resourceID = "resource_id"
            case requestingParty = "requesting_party"
            case expiresAt = "expires_at"
        }
    }

    public struct Request: Codable, Sendable, Equatable {
        public var id: String
        public var resourceID: String
        public var resourceName: String
        public var requestingParty: String
        public var clientID: String
        public var scopes: [String]
        public var createdAt: Int64
        public init(id: String, resourceID: String, resourceName: String, requestingParty: String, clientID: String, scopes: [String], createdAt: Int64) {
            self.id = id
            self.resourceID = resourceID
            self.resourceName = resourceName
            self.requestingParty = requestingParty
            self.clientID = clientID
            self.scopes = scopes
            self.createdAt = createdAt
        }
        enum CodingKeys: String, CodingKey {
            case id, scopes
            case resourceID = "resource_id"
            case resourceName = "resource_name"
            case requestingParty = "requesting_party"
            case clientID = "client_id"
            case createdAt = "created_at"
        }
    }

    public var resources: [Resource]
    public var requests: [Request]
    public init(resources: [Resource], requests: [Request]) {
        self.resources = resources
        self.requests = requests
    }
}

/// `POST /internal/uma/decide`: the owner allows or denies a pending request.
public struct UMADecisionRequest: Codable, Sendable, Equatable {
    public var owner: String
    public var requestID: String
    public var allow: Bool
    public init(owner: String, requestID: String, allow: Bool) {
        self.owner = owner
        self.requestID = requestID
        self.allow = allow
    }
    enum CodingKeys: String, CodingKey {
        case owner, allow
        case requestID = "request_id"
    }
}

/// `POST /internal/uma/unshare`: the owner withdraws a grant.
public struct UMAUnshareRequest: Codable, Sendable, Equatable {
    public var owner: String
    public var grantID: String
    public init(owner: String, grantID: String) {
        self.owner = owner
        self.grantID = grantID
    }
    enum CodingKeys: String, CodingKey {
        case owner
        case grantID = "grant_id"
    }
}

/// Answer of the owner's account-page actions: whether anything matched.
public struct UMAActionAnswer: Codable, Sendable, Equatable {
    public var done: Bool
    public init(done: Bool) { self.done = done }
}

/// `POST /internal/uma/share`: the owner grants a requesting party scopes of a resource.
public struct UMAShareRequest: Codable, Sendable, Equatable {
    public var owner: String
    public var resourceID: String
    public var requestingParty: String
    public var scopes: [String]
    public init(owner: String, resourceID: String, requestingParty: String, scopes: [String]) {
        self.owner = owner
        self.resourceID = resourceID
        self.requestingParty = requestingParty
        self.scopes = scopes
    }
    enum CodingKeys: String, CodingKey {
        case owner, scopes
        case resourceID = "resource_id"
        case requestingParty = "requesting_party"
    }
}
