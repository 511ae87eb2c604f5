/// Body of `POST /internal/revocations` on the Token Service: the Authentication Service asks
/// that every token issued to `subject` (optionally only through `clientID`) before now stops
/// being accepted — on logout, password reset, account disable or an app revoke.
public struct SubjectRevocationRequest: Codable, Sendable, Equatable {
    public var subject: String
    public var clientID: String?
    public var reason: String

    public init(subject: String, clientID: String? = nil, reason: String) {
        self.subject = subject
        self.clientID = clientID
        self.reason = reason
    }

    enum CodingKeys: String, CodingKey {
        case subject
        case clientID = "client_id"
        case reason
    }
}

/// Answer of `POST /internal/revocations`.
public struct SubjectRevocationResponse: Codable, Sendable, Equatable {
    public var subject: String
    public var clientID: String?
    /// Tokens issued at or before this instant (seconds since 1970) are no longer accepted.
    public var notBefore: Int64

    public init(subject: String, clientID: String?, notBefore: Int64) {
        self.subject = subject
        self.clientID = clientID
        self.notBefore = notBefore
    }

    enum CodingKeys: String, CodingKey {
        case subject
        case clientID = "client_id"
        case notBefore = "not_before"
    }
}

/// `/health/ready` answer.
public struct ReadinessReport: Codable, Sendable, Equatable {
    public var status: String
    public var service: String
    public var checks: [String: String]

    public init(status: String, service: String, checks: [String: String]) {
        self.status = status
        self.service = service
        self.checks = checks
    }
}
