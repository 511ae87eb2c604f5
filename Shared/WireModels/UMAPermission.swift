/// One entry of an RPT's `permissions` claim (UMA 2.0 Federated Authorization §5.1.1, as the
/// introspection answer shows it): a registered resource, the scopes granted on it, and when the
/// grant lapses (never beyond the RPT itself).
public struct UMAPermission: Codable, Sendable, Equatable, Hashable {
    public var resourceID: String
    public var resourceScopes: [String]
    public var exp: Int64?

    public init(resourceID: String, resourceScopes: [String], exp: Int64? = nil) {
        self.resourceID = resourceID
        self.resourceScopes = resourceScopes
        self.exp = exp
    }

    enum CodingKeys: String, CodingKey {
        case resourceID = "resource_id"
        case resourceScopes = "resource_scopes"
        case exp
    }
}
