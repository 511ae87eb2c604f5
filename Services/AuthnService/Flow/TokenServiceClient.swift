import Logging
import ServiceKit
import WireModels

/// What the Authentication Service asks the Token Service about an account, beyond the
/// challenge protocol (`AuthorizationFlowModels.swift`, SPEC §6): the apps it has allowed, taking
/// one back, and revoking every token of the account after a password change or a disable.
struct TokenServiceClient: Sendable {
    let client: InternalClient

    /// `POST /internal/consents/list`: the remembered consents of `subject`.
    func consents(of subject: String) async throws -> [ConsentGrant] {
        try await client.post(.token, path: "internal/consents/list", body: SubjectRef(subject: subject), as: ConsentList.self).consents
    }

    /// `POST /internal/consents/revoke`: forgets the consent and revokes every token `clientID`
    /// holds for `subject`. False when there was nothing to revoke.
    func revokeConsent(subject: String, clientID: String) async throws -> Bool {
        try await client.post(
            .token, path: "internal/consents/revoke", body: ConsentRevoke(subject: subject, clientID: clientID), as: ConsentRevokeAnswer.self
        ).revoked
    }

    /// `POST /internal/backchannel/pending`: the apps asking `subject` for permission.
    func backchannelRequests(of subject: String) async throws -> [BackchannelPendingItem] {
        try await client.post(.token, path: "internal/backchannel/pending", body: BackchannelPendingRequest(subject: subject), as: BackchannelPendingList.self)
            .requests
    }

    /// `POST /internal/backchannel/decide`: false when the request was no longer pending.
    func decideBackchannel(_ decision: BackchannelDecision) async throws -> Bool {
        try await client.post(.token, path: "internal/backchannel/decide", body: decision, as: BackchannelDecisionAnswer.self).done
    }

    /// `POST /internal/sessions/ended`: the session's tokens stop working. Best effort, as below:
    /// the user is signed out here either way.
    func sessionEnded(subject: String, sessionID: String, logger: Logger) async {
        do {
            _ = try await client.post(
                .token, path: "internal/sessions/ended", body: SessionEnded(subject: subject, sessionID: sessionID), as: SessionEndedAnswer.self
            )
        } catch {
            logger.error("session-end notice failed", metadata: ["account_id": .string(subject), "error_type": .string(String(reflecting: type(of: error)))])
        }
    }

    /// `POST /internal/revocations`: tokens already issued to the account stop working. Best
    /// effort: the account change stands either way, and a failure is logged for the operator
    /// to retry.
    func revokeTokens(of subject: String, reason: String, logger: Logger) async {
        do {
            _ = try await client.post(
                .token, path: "internal/revocations", body: SubjectRevocationRequest(subject: subject, reason: reason),
                as: SubjectRevocationResponse.self
            )
        } catch {
            logger.error(
                "token revocation failed",
                metadata: ["account_id": .string(subject), "error_type": .string(String(reflecting: type(of: error)))]
            )
        }
    }
}
