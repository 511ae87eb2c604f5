public import Foundation
import HTTPTypes
public import Hummingbird
public import Logging
import NIOCore
public import WireModels

/// Outermost middleware: assigns the request id (a safe client-supplied `X-Request-Id` is kept
/// for correlation), logs one line per request (method, route path, status, duration — never the
/// query string, headers or body), and echoes the id.
public struct RequestLogMiddleware: RouterMiddleware {
    public typealias Context = NeoSecRequestContext
    public init() {}

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var context = context
        // Hummingbird's own id is already in the logger's metadata (`hb.request.id`, written as
        // `request_id` by `JSONLogHandler`); only a caller's id needs adding, which spares the
        // logger's copy-on-write on every other request.
        let requestID: String
        if let supplied = Self.acceptableID(request.headers.value(.xRequestID)) {
            requestID = supplied
            context.logger[metadataKey: "request_id"] = .string(supplied)
        } else {
            requestID = context.id
        }
        let start = ContinuousClock.now
        var response = try await next(request, context)
        response.headers[.xRequestID] = requestID
        let elapsed = ContinuousClock.now - start
        let milliseconds = Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) / 1e15
        context.logger.info(
            "request",
            metadata: [
                "method": .string(request.method.rawValue),
                "path": .string(request.uri.path),
                "status": .stringConvertible(response.status.code),
                "duration_ms": .string(String(format: "%.2f", milliseconds)),
            ]
        )
        return response
    }

    /// Up to 64 characters of `[A-Za-z0-9._-]`: nothing that could forge a log line.
    static func acceptableID(_ value: String?) -> String? {
        guard let value, !value.isEmpty, value.utf8.count <= 64,
            value.utf8.allSatisfy({ ($0 >= 48 && $0 <= 57) || ($0 >= 65 && $0 <= 90) || ($0 >= 97 && $0 <= 122) || $0 == 45 || $0 == 46 || $0 == 95 })
        else { return nil }
        return value
    }
}

/// Turns every thrown error into a protocol error response. OAuth errors render as themselves;
/// Hummingbird's 404/405/413 become JSON errors; anything else is `server_error` with no detail
/// (the error's type is logged, its message is not: it may quote input).
public struct ErrorMappingMiddleware: RouterMiddleware {
    public typealias Context = NeoSecRequestContext
    public init() {}

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as OAuthError {
            return error.makeResponse()
        } catch is NIOTooManyBytesError {
            return OAuthError.payloadTooLarge.makeResponse()
        } catch let error as HTTPError {
            switch error.status {
            case .notFound: return OAuthError.notFound.makeResponse()
            case .methodNotAllowed: return OAuthError.methodNotAllowed.makeResponse()
            case .contentTooLarge: return OAuthError.payloadTooLarge.makeResponse()
            case let status where (400..<500).contains(status.code):
                return OAuthError(.invalidRequest, status: status).makeResponse()
            default:
                context.logger.error("unhandled HTTP error", metadata: ["status": .stringConvertible(error.status.code)])
                return OAuthError.serverError.makeResponse()
            }
        } catch let error as any HTTPResponseError where error.status.code < 500 {
            // Errors that render themselves (HTML error pages of the browser-facing services).
            return try error.response(from: request, context: context)
        } catch {
            context.logger.error("unhandled error", metadata: ["error_type": .string(String(reflecting: type(of: error)))])
            return OAuthError.serverError.makeResponse()
        }
    }
}

/// Security headers on every response. Pages that need a different policy (the HTML of the
/// Authentication Service) set their own `Content-Security-Policy`, which is kept.
public struct SecurityHeadersMiddleware: RouterMiddleware {
    public typealias Context = NeoSecRequestContext
    let strictTransportSecurity: Bool

    public init(strictTransportSecurity: Bool) { self.strictTransportSecurity = strictTransportSecurity }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var response = try await next(request, context)
        response.headers.set(.xContentTypeOptions, "nosniff")
        response.headers.set(.xFrameOptions, "DENY")
        response.headers.set(.referrerPolicy, "no-referrer")
        if !response.headers.contains(.contentSecurityPolicy) {
            response.headers.append(HTTPField(name: .contentSecurityPolicy, value: "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"))
        }
        if !response.headers.contains(.cacheControl) {
            response.headers.append(HTTPField(name: .cacheControl, value: "no-store"))
        }
        if strictTransportSecurity {
            response.headers.set(.strictTransportSecurity, "max-age=31536000; includeSubDomains")
        }
        return response
    }
}

/// Refuses oversized requests before any handler reads them: a declared `Content-Length` over
/// the limit (413), an over-long request target (414), too many or too large headers (431).
/// Bodies without a length are capped where they are read (`collectBody(upTo:)`).
public struct RequestLimitsMiddleware: RouterMiddleware {
    public typealias Context = NeoSecRequestContext
    let maximumBodyBytes: Int
    let maximumURILength: Int
    let maximumHeaderCount: Int
    let maximumHeaderBytes: Int

    public init(maximumBodyBytes: Int, maximumURILength: Int = 8 * 1024, maximumHeaderCount: Int = 64, maximumHeaderBytes: Int = 16 * 1024) {
        self.maximumBodyBytes = maximumBodyBytes
        self.maximumURILength = maximumURILength
        self.maximumHeaderCount = maximumHeaderCount
        self.maximumHeaderBytes = maximumHeaderBytes
    }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if let declared = request.headers.value(.contentLength) {
            guard let length = Int(declared), length >= 0 else { throw OAuthError.invalidRequest("malformed Content-Length") }
            guard length <= maximumBodyBytes else { throw OAuthError.payloadTooLarge }
        }
        guard request.uri.string.utf8.count <= maximumURILength else {
            throw OAuthError(.invalidRequest, status: .uriTooLong, description: "request target too long")
        }
        var headerBytes = 0
        for field in request.headers { headerBytes += field.name.rawName.utf8.count + field.value.utf8.count + 4 }
        guard request.headers.count <= maximumHeaderCount, headerBytes <= maximumHeaderBytes else {
            throw OAuthError(.invalidRequest, status: .requestHeaderFieldsTooLarge, description: "request headers too large")
        }
        return try await next(request, context)
    }
}

/// Authenticates internal calls (SPEC §6) and records the caller in the context.
public struct InternalAuthMiddleware: RouterMiddleware {
    public typealias Context = NeoSecRequestContext
    let verifier: ServiceTokenVerifier

    public init(verifier: ServiceTokenVerifier) { self.verifier = verifier }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let token = BearerToken.extract(request.headers.value(.authorization)) else {
            throw OAuthError.missingToken(realm: ServiceToken.realm)
        }
        var context = context
        do {
            context.caller = try await verifier.verify(token)
        } catch {
            context.logger.notice("internal call refused", metadata: ["reason": .string(error.rawValue)])
            throw OAuthError.invalidToken("invalid service token", realm: ServiceToken.realm)
        }
        context.logger[metadataKey: "caller"] = .string(context.caller!.rawValue)
        return try await next(request, context)
    }
}

/// Protects the admin API with `NEOSEC_ADMIN_TOKEN` (Bearer, constant-time comparison).
public struct AdminAuthMiddleware: RouterMiddleware {
    public typealias Context = NeoSecRequestContext
    let adminToken: Secret
    let realm: String

    public init(adminToken: Secret, realm: String) {
        self.adminToken = adminToken
        self.realm = realm
    }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let token = BearerToken.extract(request.headers.value(.authorization)) else {
            throw OAuthError.missingToken(realm: realm)
        }
        guard adminToken.matches(token) else {
            context.logger.notice("admin call refused")
            throw OAuthError.invalidToken("invalid admin token", realm: realm)
        }
        return try await next(request, context)
    }
}

/// RFC 6750 §2.1 `Authorization: Bearer <b64token>`.
public enum BearerToken {
    public static func extract(_ header: String?) -> String? {
        guard let header else { return nil }
        let parts = header.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: false)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else { return nil }
        let token = String(parts[1])
        // b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
        guard !token.isEmpty, token.utf8.count <= 16 * 1024,
            token.utf8.allSatisfy({ byte in
                (48...57).contains(byte) || (65...90).contains(byte) || (97...122).contains(byte)
                    || [45, 46, 95, 126, 43, 47, 61].contains(byte)
            })
        else { return nil }
        return token
    }
}
