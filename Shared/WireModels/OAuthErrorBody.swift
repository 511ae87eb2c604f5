/// The JSON error body of RFC 6749 §5.2, also used by RFC 6750, RFC 7591 and RFC 8628.
public struct OAuthErrorBody: Codable, Sendable, Equatable {
    public var error: String
    public var errorDescription: String?
    public var errorURI: String?
    /// UMA 2.0 Grant §3.3.6: `ticket`, `required_claims`, `redirect_user`, `interval`, flattened
    /// into the error object.
    public var uma: UMAErrorExtras?

    public init(error: String, errorDescription: String? = nil, errorURI: String? = nil, uma: UMAErrorExtras? = nil) {
        self.error = error
        self.errorDescription = errorDescription
        self.errorURI = errorURI
        self.uma = uma
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        error = try container.decode(String.self, forKey: .error)
        errorDescription = try container.decodeIfPresent(String.self, forKey: .errorDescription)
        errorURI = try container.decodeIfPresent(String.self, forKey: .errorURI)
        let extras = try UMAErrorExtras(from: decoder)
        uma = extras == UMAErrorExtras() ? nil : extras
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(error, forKey: .error)
        try container.encodeIfPresent(errorDescription, forKey: .errorDescription)
        try container.encodeIfPresent(errorURI, forKey: .errorURI)
        try uma?.encode(to: encoder)
    }

    enum CodingKeys: String, CodingKey {
        case error
        case errorDescription = "error_description"
        case errorURI = "error_uri"
    }
}
