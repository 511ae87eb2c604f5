import Hummingbird
import JOSE
import ServiceKit
import WireModels

/// Admin API for the token-signing keys.
///
/// - `GET /admin/keys`: the published keys.
/// - `POST /admin/keys/rotate`: new active keys for every algorithm; the previous ones stay
///   published for the key retention period so tokens they signed keep verifying.
struct AdminKeysEndpoint {
    let keys: KeyRing

    struct KeyList: Codable {
        var keys: [PublicJWK]
        var active: [String: String]
    }

    func register(on group: RouterGroup<NeoSecRequestContext>) {
        group.get("keys") { _, _ in
            try await keys.reload()
            return try Response.json(list())
        }
        group.post("keys/rotate") { _, context in
            try await keys.rotate()
            let result = try list()
            context.logger.notice("token signing keys rotated", metadata: ["active_kids": .string(result.active.values.sorted().joined(separator: ","))])
            return try Response.json(result)
        }
    }

    private func list() throws -> KeyList {
        var active: [String: String] = [:]
        for algorithm in keys.algorithms {
            active[algorithm.rawValue] = try keys.signingKey(algorithm).kid
        }
        return KeyList(keys: keys.jwks.keys, active: active)
    }
}
