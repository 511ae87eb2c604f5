/// The five NeoSec services. The raw value is the service's identity in internal-call
/// tokens (`iss` / `aud`, SPEC §6) and the name of its executable.
public enum ServiceName: String, CaseIterable, Codable, Sendable {
    case token = "neosec-token"
    case authn = "neosec-authn"
    case uma = "neosec-uma"
    case introspect = "neosec-introspect"
    case resource = "neosec-resource"

    /// Short name used on the command line (`neosec serve token`) and in configuration keys.
    public var shortName: String {
        switch self {
        case .token: "token"
        case .authn: "authn"
        case .uma: "uma"
        case .introspect: "introspect"
        case .resource: "resource"
        }
    }

    /// Development port from SPEC §1.
    public var defaultPort: Int {
        switch self {
        case .token: 9000
        case .authn: 9001
        case .uma: 9002
        case .introspect: 9003
        case .resource: 9004
        }
    }

    /// Human-readable role, printed by `neosec up`.
    public var title: String {
        switch self {
        case .token: "Token Service"
        case .authn: "Authentication Service"
        case .uma: "UMA Authorization Server"
        case .introspect: "Introspection Service"
        case .resource: "Resource Server (demo)"
        }
    }

    public init?(shortName: String) {
        guard let match = Self.allCases.first(where: { $0.shortName == shortName || $0.rawValue == shortName }) else { return nil }
        self = match
    }
}
