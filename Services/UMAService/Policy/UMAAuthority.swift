import Foundation
import JOSE
import ServiceKit
import Storage
import WireModels

/// Every UMA decision in one place: tickets (issued, consumed once), policy evaluation for the
/// UMA grant, the owner's grants and pending requests.
///
/// Evaluation (UMA 2.0 Grant §3.3.4): no policy means deny, except that an owner always reaches
/// their own resources. Without a known requesting party the answer is `need_info`; for a
/// scope nobody granted, `request_submitted` (a pending request the owner decides on) or, once
/// the owner denied or withdrew access, `request_denied`.
struct UMAAuthority: Sendable {
    static let ticketPrefix = "neo_pt_"
    static let pctPrefix = "neo_pct_"
    static let ticketLifetime: Int64 = 300
    static let pctLifetime: Int64 = 7 * 86_400
    /// Seconds a client waits between polls after `request_submitted` (UMA 2.0 Grant §3.3.6).
    static let pollInterval = 5

    let store: any UMAStore
    let issuer: String
    let time: any TimeSource

    // MARK: Tickets

    func issueTicket(resourceServer: String, permissions: [UMATicket.Permission], requestingParty: String? = nil, clientID: String? = nil) async throws -> String {
        let ticket = Self.ticketPrefix + RandomToken.make(bytes: 32)
        try await store.insertTicket(
            UMATicket(
                hash: CredentialHash.hex(ticket), resourceServer: resourceServer, permissions: permissions, requestingParty: requestingParty,
                clientID: clientID, expiresAt: time.epochSeconds + Self.ticketLifetime
            )
        )
        return ticket
    }

    func consume(_ ticket: String) async throws -> UMATicket? {
        guard Self.isWellFormed(ticket, prefix: Self.ticketPrefix) else { return nil }
        return try await store.consumeTicket(hash: CredentialHash.hex(ticket), now: time.epochSeconds)
    }

    static func isWellFormed(_ value: String, prefix: String) -> Bool {
        value.hasPrefix(prefix) && value.utf8.count <= 128
            && value.utf8.dropFirst(prefix.utf8.count).allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x41 && $0 <= 0x5A) || ($0 >= 0x61 && $0 <= 0x7A) || $0 == 0x2D || $0 == 0x5F }
    }

    // MARK: Claims interaction

    /// The ticket traded for one bound to the requesting party who signed in, for this client.
    func submitClaims(_ request: UMAClaimsRequest) async throws -> String? {
        guard let old = try await consume(request.ticket) else { return nil }
        return try await issueTicket(resourceServer: old.resourceServer, permissions: old.permissions, requestingParty: request.subject, clientID: request.clientID)
    }

    // MARK: Evaluation

    func evaluate(_ request: UMAEvaluateRequest) async throws -> UMAEvaluateAnswer {
        guard let ticket = try await consume(request.ticket) else {
            return UMAEvaluateAnswer(outcome: OAuthError.Code.invalidGrant.rawValue)
        }
        let now = time.epochSeconds
        // Who is asking: a party bound to the ticket by claims interaction (for this client
        // only), pushed claims the Token Service verified, or a persisted claims token.
        var party: String?
        var gathered = false
        if let bound = ticket.requestingParty {
            guard ticket.clientID == request.clientID else { return UMAEvaluateAnswer(outcome: OAuthError.Code.invalidGrant.rawValue) }
            party = bound
            gathered = true
        } else if let pushed = request.requestingParty {
            party = pushed
            gathered = true
        } else if let pct = request.pct {
            guard Self.isWellFormed(pct, prefix: Self.pctPrefix),
                let subject = try await store.pctSubject(hash: CredentialHash.hex(pct), clientID: request.clientID, now: now)
            else { return UMAEvaluateAnswer(outcome: OAuthError.Code.invalidGrant.rawValue) }
            party = subject
        }

        var resources: [String: UMAResource] = [:]
        for permission in ticket.permissions {
            guard let resource = try await store.resource(id: permission.resourceID), resource.resourceServer == ticket.resourceServer else {
                return UMAEvaluateAnswer(outcome: OAuthError.Code.invalidGrant.rawValue)
            }
            resources[resource.id] = resource
        }
        // UMA 2.0 Grant §3.3.4: a scope the client adds must be one of the ticket's resources'.
        var wanted = ticket.permissions
        for scope in request.scopes ?? [] {
            var matched = false
            for index in wanted.indices where resources[wanted[index].resourceID]!.scopes.contains(scope) {
                matched = true
                if !wanted[index].scopes.contains(scope) { wanted[index].scopes.append(scope) }
            }
            guard matched else { return UMAEvaluateAnswer(outcome: OAuthError.Code.invalidScope.rawValue) }
        }

        guard let party else {
            let fresh = try await issueTicket(resourceServer: ticket.resourceServer, permissions: ticket.permissions)
            return UMAEvaluateAnswer(
                outcome: OAuthError.Code.needInfo.rawValue,
                extras: UMAErrorExtras(
                    ticket: fresh,
                    requiredClaims: [
                        UMARequiredClaim(claimTokenFormat: [umaIDTokenFormat], claimType: "string", friendlyName: "subject", issuer: [issuer], name: "sub")
                    ],
                    redirectUser: true
                )
            )
        }

        let grants = Dictionary(
            try await store.grants(requestingParty: party, resourceIDs: Array(resources.keys)).filter { $0.expiresAt.map { $0 > now } ?? true }
                .map { ($0.resourceID, $0) },
            uniquingKeysWith: { first, _ in first }
        )
        var granted: [UMAPermission] = []
        var missing: [(UMAResource, [String])] = []
        for permission in wanted {
            let resource = resources[permission.resourceID]!
            if resource.owner == party {
                granted.append(UMAPermission(resourceID: resource.id, resourceScopes: permission.scopes, exp: request.expiresAt))
                continue
            }
            let allowed = grants[resource.id]?.scopes ?? []
            let lacking = permission.scopes.filter { !allowed.contains($0) }
            // A ticket naming no scope asks for whatever the owner allowed; nothing allowed is a miss.
            if lacking.isEmpty && !(permission.scopes.isEmpty && allowed.isEmpty) {
                let scopes = permission.scopes.isEmpty ? allowed : permission.scopes
                let exp = min(grants[resource.id]?.expiresAt ?? request.expiresAt, request.expiresAt)
                granted.append(UMAPermission(resourceID: resource.id, resourceScopes: scopes, exp: exp))
            } else {
                missing.append((resource, permission.scopes.isEmpty ? resource.scopes : lacking))
            }
        }

        if !missing.isEmpty {
            var denied = false
            for (resource, scopes) in missing {
                let existing = try await store.request(resourceID: resource.id, requestingParty: party)
                if existing?.status == .denied {
                    denied = true
                    continue
                }
                var union = existing?.scopes ?? []
                for scope in scopes where !union.contains(scope) { union.append(scope) }
                try await store.upsertRequest(
                    UMARequestRecord(
                        id: existing?.id ?? RandomToken.make(bytes: 12), owner: resource.owner, resourceID: resource.id, requestingParty: party,
                        clientID: request.clientID, scopes: union, status: .pending, createdAt: existing?.createdAt ?? now
                    )
                )
            }
            if denied { return UMAEvaluateAnswer(outcome: OAuthError.Code.requestDenied.rawValue) }
            let fresh = try await issueTicket(resourceServer: ticket.resourceServer, permissions: ticket.permissions, requestingParty: party, clientID: request.clientID)
            return UMAEvaluateAnswer(outcome: OAuthError.Code.requestSubmitted.rawValue, extras: UMAErrorExtras(ticket: fresh, interval: Self.pollInterval))
        }

        // RPT upgrade: the previous permissions are kept only where current policy still allows them.
        for previous in request.previous ?? [] {
            guard let resource = try await store.resource(id: previous.resourceID) else { continue }
            var scopes = previous.resourceScopes
            var exp = min(previous.exp ?? request.expiresAt, request.expiresAt)
            if resource.owner != party {
                let grant = try await store.grants(requestingParty: party, resourceIDs: [resource.id]).first { $0.expiresAt.map { $0 > now } ?? true }
                guard let grant else { continue }
                scopes = scopes.filter(grant.scopes.contains)
                exp = min(exp, grant.expiresAt ?? exp)
            }
            guard !scopes.isEmpty else { continue }
            if let index = granted.firstIndex(where: { $0.resourceID == resource.id }) {
                for scope in scopes where !granted[index].resourceScopes.contains(scope) { granted[index].resourceScopes.append(scope) }
            } else {
                granted.append(UMAPermission(resourceID: resource.id, resourceScopes: scopes, exp: exp))
            }
        }
        for permission in granted { try await store.clearRequest(resourceID: permission.resourceID, requestingParty: party) }

        var pct: String?
        if gathered {
            let value = Self.pctPrefix + RandomToken.make(bytes: 32)
            try await store.insertPCT(hash: CredentialHash.hex(value), clientID: request.clientID, subject: party, expiresAt: now + Self.pctLifetime)
            pct = value
        }
        return UMAEvaluateAnswer(outcome: "granted", permissions: granted, requestingParty: party, pct: pct)
    }

    // MARK: Owner decisions

    /// Allows (a grant of the requested scopes) or denies a pending request of this owner.
    func decide(owner: String, requestID: String, allow: Bool) async throws -> UMARequestRecord? {
        guard let request = try await store.requests(owner: owner).first(where: { $0.id == requestID && $0.status == .pending }) else { return nil }
        if allow {
            _ = try await store.deleteRequest(id: request.id, owner: owner)
            try await share(owner: owner, resourceID: request.resourceID, requestingParty: request.requestingParty, scopes: request.scopes, expiresAt: nil)
        } else {
            try await store.setRequestStatus(resourceID: request.resourceID, requestingParty: request.requestingParty, status: .denied)
        }
        return request
    }

    /// A grant of `scopes` on the owner's resource to the requesting party, replacing any
    /// earlier one; an earlier denial is forgotten.
    @discardableResult
    func share(owner: String, resourceID: String, requestingParty: String, scopes: [String], expiresAt: Int64?) async throws -> UMAGrantRecord {
        let grant = UMAGrantRecord(
            id: RandomToken.make(bytes: 12), owner: owner, resourceID: resourceID, requestingParty: requestingParty, scopes: scopes, expiresAt: expiresAt,
            createdAt: time.epochSeconds
        )
        try await store.upsertGrant(grant)
        try await store.clearRequest(resourceID: resourceID, requestingParty: requestingParty)
        return grant
    }

    /// Withdraws a grant; the requesting party's next request is denied until the owner shares
    /// again. The caller then has the Token Service revoke that party's RPTs.
    func unshare(owner: String, grantID: String) async throws -> UMAGrantRecord? {
        guard let grant = try await store.deleteGrant(id: grantID, owner: owner) else { return nil }
        try await store.upsertRequest(
            UMARequestRecord(
                id: RandomToken.make(bytes: 12), owner: owner, resourceID: grant.resourceID, requestingParty: grant.requestingParty, clientID: "",
                scopes: grant.scopes, status: .denied, createdAt: time.epochSeconds
            )
        )
        try await store.setRequestStatus(resourceID: grant.resourceID, requestingParty: grant.requestingParty, status: .denied)
        return grant
    }

    func accountView(owner: String) async throws -> UMAAccountView {
        let resources = try await store.resources(owner: owner)
        let grants = try await store.grants(owner: owner)
        let names = Dictionary(resources.map { ($0.id, $0.name ?? $0.id) }, uniquingKeysWith: { first, _ in first })
        return UMAAccountView(
            resources: resources.map { resource in
                UMAAccountView.Resource(
                    id: resource.id, name: resource.name ?? resource.id, scopes: resource.scopes,
                    grants: grants.filter { $0.resourceID == resource.id }.map {
                        UMAAccountView.Grant(id: $0.id, requestingParty: $0.requestingParty, scopes: $0.scopes, expiresAt: $0.expiresAt)
                    }
                )
            },
            requests: try await store.requests(owner: owner).filter { $0.status == .pending }.map {
                UMAAccountView.Request(
                    id: $0.id, resourceID: $0.resourceID, resourceName: names[$0.resourceID] ?? $0.resourceID, requestingParty: $0.requestingParty,
                    clientID: $0.clientID, scopes: $0.scopes, createdAt: $0.createdAt
                )
            }
        )
    }
}
