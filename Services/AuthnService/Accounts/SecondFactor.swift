import JOSE
import ServiceKit
import Storage

/// Two-step verification of an account: TOTP enrolment, verification with replay protection,
/// and recovery codes (NIST SP 800-63B §5.1.4 single-factor OTP device, §5.1.2 look-up secrets).
///
/// The TOTP secret is stored sealed with the service's `KeySealer` (AES-256-GCM under a key
/// derived from the master key), with the account id as associated data, so a sealed secret
/// copied onto another account's row does not open. Recovery codes are 10 base32 characters
/// (50 bits) from the CSPRNG, shown once and stored only as SHA-256 over the account id and the
/// code, so that one sweep over a leaked table cannot test a guess against every account.
struct SecondFactor: Sendable {
    /// The ACR of a sign-in with password and a second factor (`acr_values_supported`).
    static let acr = "urn:neosec:acr:mfa"
    static let recoveryCodeCount = 10
    static let recoveryCodeLength = 10
    static let sealPurpose = "totp-secret"
    static let sealAlgorithm = "TOTP-SHA1"

    let store: any MFAStore
    let sealer: KeySealer
    let time: any TimeSource

    /// Which second factor a sign-in used.
    enum Method: Sendable, Equatable {
        case totp
        case recoveryCode
    }

    /// What the user types in the `otp` field, once spaces and hyphens are gone.
    enum Input: Sendable, Equatable {
        case totp(String)
        case recoveryCode(String)
    }

    /// An enrolment to show: the secret as base32 and as a provisioning URI.
    struct Enrolment: Sendable {
        let secret: [UInt8]
        let sealedSecret: [UInt8]
        let base32: String
        let uri: String
    }

    enum Confirmation: Sendable {
        /// TOTP is on; the recovery codes to show the user, once.
        case enabled(recoveryCodes: [String])
        /// The code did not match; the enrolment stays as it was.
        case wrongCode(Enrolment)
        /// Nothing to confirm: no enrolment, TOTP already on, or a newer enrolment replaced this one.
        case nothingPending
    }

    /// Whether an authorization request's `acr_values` (OpenID Connect Core §3.1.2.1) can only be
    /// met with a second factor: it names the MFA class and not the password-only one.
    static func required(by acrValues: [String]) -> Bool {
        acrValues.contains(acr) && !acrValues.contains(LoginEndpoint.acr)
    }

    func isEnabled(accountID: String) async throws -> Bool {
        try await store.totp(accountID: accountID)?.enabled == true
    }

    func recoveryCodesLeft(accountID: String) async throws -> Int {
        try await store.recoveryCodeCount(accountID: accountID)
    }

    // MARK: Enrolment

    /// Starts (or restarts) an enrolment with a fresh secret; nil when TOTP is already on.
    func begin(_ account: StoredAccount) async throws -> Enrolment? {
        let secret = TOTP.makeSecret()
        let sealed = try seal(secret, accountID: account.id)
        guard try await store.savePendingTOTP(accountID: account.id, sealedSecret: sealed, at: time.epochSeconds) else { return nil }
        return enrolment(secret: secret, sealed: sealed, account: account)
    }

    /// The unfinished enrolment, when there is one.
    func pending(_ account: StoredAccount) async throws -> Enrolment? {
        guard let credential = try await store.totp(accountID: account.id), !credential.enabled else { return nil }
        return enrolment(secret: try open(credential), sealed: credential.sealedSecret, account: account)
    }

    /// Turns TOTP on when `code` is a current code of the unfinished enrolment, and issues a new
    /// set of recovery codes.
    func confirm(_ account: StoredAccount, code: String) async throws -> Confirmation {
        guard let enrolment = try await pending(account) else { return .nothingPending }
        guard case .totp(let digits)? = Self.normalize(code),
            let step = TOTP.matchingStep(digits, secret: enrolment.secret, at: time.epochSeconds, after: nil)
        else { return .wrongCode(enrolment) }
        let now = time.epochSeconds
        guard try await store.enableTOTP(accountID: account.id, sealedSecret: enrolment.sealedSecret, step: step, at: now) else {
            return .nothingPending
        }
        let codes = Self.makeRecoveryCodes()
        try await store.replaceRecoveryCodes(
            accountID: account.id, codeHashes: codes.map { Self.recoveryCodeHash(accountID: account.id, code: $0) }, at: now
        )
        return .enabled(recoveryCodes: codes.map(Self.display))
    }

    func disable(accountID: String) async throws {
        try await store.deleteTOTP(accountID: accountID)
    }

    // MARK: Verification

    /// Checks the second factor of a sign-in: a TOTP code of a step not used before, or an unused
    /// recovery code (which is then gone). Nil for anything else, or when TOTP is not on.
    func verify(_ input: String, accountID: String) async throws -> Method? {
        guard let credential = try await store.totp(accountID: accountID), credential.enabled else { return nil }
        switch Self.normalize(input) {
        case .totp(let code)?:
            let now = time.epochSeconds
            guard let step = TOTP.matchingStep(code, secret: try open(credential), at: now, after: credential.lastStep) else { return nil }
            // The store decides: of two requests with the same code, only one records the step.
            return try await store.recordTOTPStep(accountID: accountID, step: step, at: now) ? .totp : nil
        case .recoveryCode(let code)?:
            let hash = Self.recoveryCodeHash(accountID: accountID, code: code)
            return try await store.consumeRecoveryCode(accountID: accountID, codeHash: hash) ? .recoveryCode : nil
        case nil:
            return nil
        }
    }

    /// Spaces and hyphens dropped, letters upper-cased: 6 digits are a TOTP code, 10 base32
    /// characters a recovery code, anything else neither.
    static func normalize(_ raw: String) -> Input? {
        guard raw.utf8.count <= 64 else { return nil }
        var kept = ""
        for scalar in raw.unicodeScalars where scalar != " " && scalar != "-" && scalar != "\t" {
            kept.unicodeScalars.append(scalar)
        }
        let compact = kept.uppercased()
        if compact.utf8.count == TOTP.digits, compact.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) {
            return .totp(compact)
        }
        if compact.utf8.count == recoveryCodeLength, Base32.isAlphabet(compact) {
            return .recoveryCode(compact)
        }
        return nil
    }

    // MARK: Recovery codes

    /// Ten codes of ten base32 characters; each byte's low five bits pick a character, which is
    /// uniform since 256 is a multiple of 32.
    static func makeRecoveryCodes() -> [String] {
        (0..<recoveryCodeCount).map { _ in
            String(decoding: RandomToken.randomBytes(recoveryCodeLength).map { Base32.alphabet[Int($0 & 0x1F)] }, as: UTF8.self)
        }
    }

    /// `ABCDE-FGHIJ`: easier to copy by hand; the hyphen is ignored when typed back.
    static func display(_ code: String) -> String {
        let characters = Array(code)
        guard characters.count == recoveryCodeLength else { return code }
        return String(characters[0..<5]) + "-" + String(characters[5...])
    }

    static func recoveryCodeHash(accountID: String, code: String) -> String {
        CredentialHash.hex("neosec-recovery-code|\(accountID)|\(code)")
    }

    // MARK: Sealing

    private func enrolment(secret: [UInt8], sealed: [UInt8], account: StoredAccount) -> Enrolment {
        Enrolment(
            secret: secret, sealedSecret: sealed, base32: Base32.encode(secret), uri: TOTP.provisioningURI(secret: secret, username: account.username)
        )
    }

    private func seal(_ secret: [UInt8], accountID: String) throws -> [UInt8] {
        try sealer.seal(secret, kid: accountID, algorithm: Self.sealAlgorithm, purpose: Self.sealPurpose)
    }

    private func open(_ credential: StoredTOTP) throws -> [UInt8] {
        try sealer.open(credential.sealedSecret, kid: credential.accountID, algorithm: Self.sealAlgorithm, purpose: Self.sealPurpose)
    }
}
