import Foundation
import JOSE
import ServiceKit
import Storage
import WireModels

/// UMA 2.0 Grant §3.3.1 (`urn:ietf:params:oauth:grant-type:uma-ticket`): the client presents a
/// permission ticket, and perhaps claims (an ID token of this issuer as `claim_token`), a
/// persisted claims token (`pct`), an RPT to upgrade (`rpt`) and more `scope`. The UMA service
/// evaluates the ticket against the owners' policies; this grant turns its verdict into an RPT
/// or into the error object of §3.3.6.
///
/// RPTs are always opaque (by reference): their permissions follow the owner's decisions, so a
/// withdrawn grant must take effect at the resource server within the revocation bound, which
/// a self-contained JWT cannot promise.
struct UMAGrant: GrantHandler {
    let grantType = GrantType.umaTicket
    let issuer: String
    let internalClient: InternalClient
    let accessTokens: AccessTokenIssuer
    let keys: KeyRing
    let tokens: any TokenStore
    let subjectRevocations: any SubjectRevocationStore
    let time: any TimeSource

    /// The `parent_hash` every RPT of a requesting party is recorded under, so that the UMA
    /// service can have them all revoked when an owner withdraws a grant.
    static func parent(ofRequestingParty party: String) -> String { "uma-rp:" + CredentialHash.hex(party) }

    func handle(_ request: TokenRequest) async throws -> TokenResponse {
        let client = request.client
        let form = request.parameters
        let ticket = try form.require("ticket")
        guard ticket.utf8.count <= 128 else { throw OAuthError.invalidGrant("invalid ticket") }

        var party: String?
        switch (form["claim_token"], form["claim_token_format"]) {
        case (nil, nil):
            break
        case (let token?, let format?):
            guard format == umaIDTokenFormat else { throw OAuthError.invalidRequest("unsupported claim_token_format") }
            party = try await idTokenSubject(token, clientID: client.id)
        default:
            throw OAuthError.invalidRequest("claim_token and claim_token_format go together")
        }
        let pct = form["pct"]
        if let pct, pct.utf8.count > 128 { throw OAuthError.invalidGrant("invalid pct") }
        var scopes: [String]?
        if let scope = form["scope"] {
            guard let parsed = Self.parseScopes(scope) else { throw OAuthError.invalidScope("malformed scope") }
            scopes = parsed
        }
        var previous: [UMAPermission]?
        if let rpt = form["rpt"] { previous = try await permissions(ofRPT: rpt, clientID: client.id) }
        if previous?.isEmpty == true { previous = nil }

        let resources = form.values("resource")
        let audiences = try GrantRules.audiences(requested: resources, client: client)
        let lifetime = client.accessTokenLifetime
        let expiresAt = time.epochSeconds + Int64(lifetime)
        let answer: UMAEvaluateAnswer
        do {
            answer = try await internalClient.post(
                .uma, path: "internal/uma/evaluate",
                body: UMAEvaluateRequest(ticket: ticket, clientID: client.id, requestingParty: party, pct: pct, scopes: scopes, previous: previous, expiresAt: expiresAt),
                as: UMAEvaluateAnswer.self
            )
        } catch {
            throw OAuthError(.temporarilyUnavailable, status: .serviceUnavailable, description: "try again later")
        }
        switch answer.outcome {
        case "granted":
            guard let permissions = answer.permissions, let subject = answer.requestingParty else { throw OAuthError.serverError }
            let issued = try await accessTokens.issue(
                client: client, subject: subject, scopes: [], audiences: audiences,
                record: AccessTokenIssuer.Record(familyID: RandomToken.make(bytes: 16), parentHash: Self.parent(ofRequestingParty: subject), sessionID: nil),
                confirmation: request.confirmation, permissions: permissions, format: .opaque
            )
            var response = TokenResponse(accessToken: issued.token, tokenType: request.tokenType, expiresIn: issued.expiresIn, scope: nil)
            response.pct = answer.pct
            if previous != nil { response.upgraded = true }
            return response
        case OAuthError.Code.needInfo.rawValue, OAuthError.Code.requestSubmitted.rawValue, OAuthError.Code.requestDenied.rawValue:
            // §3.3.6: 403 with the error object, carrying the new ticket where there is one.
            var error = OAuthError(OAuthError.Code(rawValue: answer.outcome), status: .forbidden, description: Self.descriptions[answer.outcome])
            error.uma = answer.extras
            throw error
        case OAuthError.Code.invalidScope.rawValue:
            throw OAuthError.invalidScope("a requested scope is not available for the ticket's resources")
        default:
            throw OAuthError.invalidGrant("the ticket is unknown, used, expired or not for this client")
        }
    }

    static let descriptions = [
        OAuthError.Code.needInfo.rawValue: "claims about the requesting party are needed",
        OAuthError.Code.requestSubmitted.rawValue: "the resource owner has been asked; try again later",
        OAuthError.Code.requestDenied.rawValue: "the resource owner does not allow this access",
    ]

    static func parseScopes(_ text: String) -> [String]? {
        var result: [String] = []
        for token in text.split(separator: " ", omittingEmptySubsequences: true) {
            guard token.utf8.count <= 200, token.utf8.allSatisfy({ $0 == 0x21 || (0x23...0x5B).contains($0) || (0x5D...0x7E).contains($0) }) else { return nil }
            if !result.contains(String(token)) { result.append(String(token)) }
        }
        return result.isEmpty || result.count > 64 ? nil : result
    }

    /// An ID token of this issuer, issued to this client, unexpired, and not issued before the
    /// subject's tokens were revoked: its `sub` is the requesting party.
    func idTokenSubject(_ token: String, clientID: String) async throws -> String {
        guard token.utf8.count <= 16 * 1024,
            let claims = try? await JWS.verify(token, as: IDTokenClaims.self, keys: keys.verificationKeys, acceptedTypes: ["JWT", nil]).claims
        else { throw OAuthError.invalidGrant("claim_token is not a valid ID token of this issuer") }
        let now = time.epochSeconds
        guard claims.iss == issuer, claims.aud == clientID, claims.exp > now else {
            throw OAuthError.invalidGrant("claim_token is expired or was not issued to this client")
        }
        if let notBefore = try await subjectRevocations.notBefore(subject: claims.sub, clientID: clientID), claims.iat <= notBefore {
            throw OAuthError.invalidGrant("claim_token was revoked")
        }
        return claims.sub
    }

    /// The permissions of the `rpt` parameter: an access token this client holds, unexpired and
    /// not revoked. An RPT carries permissions; a plain access token (as clients such as
    /// requests-oauthlib-uma present on their first UMA flow) carries none, and is not upgraded.
    /// Anything else is `invalid_grant`.
    func permissions(ofRPT rpt: String, clientID: String) async throws -> [UMAPermission]? {
        let invalid = OAuthError.invalidGrant("rpt is not a valid access token of this client")
        let now = time.epochSeconds
        guard rpt.utf8.count <= 16 * 1024 else { throw invalid }
        if rpt.hasPrefix(AccessTokenIssuer.opaquePrefix) {
            guard let stored = try await tokens.find(hash: CredentialHash.hex(rpt)), stored.kind == .access, stored.clientID == clientID, !stored.revoked,
                stored.expiresAt > now
            else { throw invalid }
            struct Extra: Decodable { var permissions: [UMAPermission]? }
            guard let json = stored.claimsJSON else { return nil }
            guard let extra = try? JSONDecoder().decode(Extra.self, from: Data(json.utf8)) else { throw invalid }
            return extra.permissions
        }
        guard let claims = try? await JWS.verify(rpt, as: AccessTokenClaims.self, keys: keys.verificationKeys, acceptedTypes: [AccessTokenIssuer.jwtType]).claims,
            claims.iss == issuer, claims.clientID == clientID, claims.exp > now
        else { throw invalid }
        if let record = try await tokens.find(hash: AccessTokenIssuer.jwtRecordHash(jti: claims.jti)), record.revoked { throw invalid }
        return claims.permissions
    }
}
