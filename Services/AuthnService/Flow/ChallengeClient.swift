import Foundation
import ServiceKit
import WireModels

/// The Authentication Service's end of the login / consent / logout challenge protocol
/// (`AuthorizationFlowModels.swift`, SPEC §6): authenticated internal calls to the Token Service.
///
/// Failures become pages: an unknown, expired or used challenge (404) is the "link has expired"
/// page; any other refusal a generic 400; an unreachable Token Service 503.
struct ChallengeClient: Sendable {
    let client: InternalClient
    let pages: PageRenderer

    func login(_ challenge: String) async throws -> LoginRequestInfo {
        try await call("internal/login/get", ChallengeRef(challenge: try wellFormed(challenge)))
    }

    func acceptLogin(_ accept: LoginAccept) async throws -> String {
        try target(try await call("internal/login/accept", accept))
    }

    func rejectLogin(_ challenge: String, error: String) async throws -> String {
        try target(try await call("internal/login/reject", ChallengeReject(challenge: try wellFormed(challenge), error: error)))
    }

    func consent(_ challenge: String) async throws -> ConsentRequestInfo {
        try await call("internal/consent/get", ChallengeRef(challenge: try wellFormed(challenge)))
    }

    func acceptConsent(_ accept: ConsentAccept) async throws -> String {
        try target(try await call("internal/consent/accept", accept))
    }

    func rejectConsent(_ challenge: String, error: String) async throws -> String {
        try target(try await call("internal/consent/reject", ChallengeReject(challenge: try wellFormed(challenge), error: error)))
    }

    func logout(_ challenge: String) async throws -> LogoutRequestInfo {
        try await call("internal/logout/get", ChallengeRef(challenge: try wellFormed(challenge)))
    }

    /// Where to go after the logout, when the client registered somewhere (nil: our own page).
    func acceptLogout(_ challenge: String) async throws -> String? {
        let answer: RedirectAnswer = try await call("internal/logout/accept", ChallengeRef(challenge: try wellFormed(challenge)))
        return try answer.redirectTo.map { try target(RedirectAnswer(redirectTo: $0)) }
    }

    /// Challenges are our peer's random base64url strings; anything else is not worth a call.
    func wellFormed(_ challenge: String) throws(HTMLError) -> String {
        guard !challenge.isEmpty, challenge.utf8.count <= 256,
            challenge.utf8.allSatisfy({ (48...57).contains($0) || (65...90).contains($0) || (97...122).contains($0) || $0 == 45 || $0 == 95 })
        else { throw pages.expiredChallenge }
        return challenge
    }

    /// `redirect_to` comes from the Token Service over an authenticated call (which matched a
    /// client's redirect URI exactly); it is still checked before it becomes a `Location`: an
    /// absolute http(s) URL with a host, or a native app's private-use scheme (RFC 8252 §7.1:
    /// reverse domain name, so it has a dot, which no script-running scheme like `javascript:`
    /// or `data:` has), printable ASCII only.
    static func isAcceptableLocation(_ location: String) -> Bool {
        guard location.utf8.count <= 8192, location.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }), let url = URL(string: location),
            let scheme = url.scheme?.lowercased()
        else { return false }
        if scheme == "http" || scheme == "https" { return url.host?.isEmpty == false }
        return scheme.contains(".") && scheme.utf8.allSatisfy { (97...122).contains($0) || (48...57).contains($0) || $0 == 46 || $0 == 43 || $0 == 45 }
    }

    private func target(_ answer: RedirectAnswer) throws(HTMLError) -> String {
        guard let location = answer.redirectTo, Self.isAcceptableLocation(location) else { throw pages.unavailable }
        return location
    }

    private func call<Body: Encodable & Sendable, Answer: Decodable>(_ path: String, _ body: Body) async throws -> Answer {
        do {
            return try await client.post(.token, path: path, body: body, as: Answer.self)
        } catch InternalCallError.unexpectedStatus(404) {
            throw pages.expiredChallenge
        } catch InternalCallError.unexpectedStatus(let status) where (400..<500).contains(status) {
            throw pages.error(
                .badRequest, heading: "This request cannot be completed",
                message: "This sign-in request cannot be completed. Start again from the app."
            )
        } catch let error as CancellationError {
            throw error
        } catch {
            throw pages.unavailable
        }
    }
}
