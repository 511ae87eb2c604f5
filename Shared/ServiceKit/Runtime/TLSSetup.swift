import AsyncHTTPClient
import Crypto
import Foundation
import JOSE
import NIOCore
import NIOSSL
import Synchronization

/// TLS where it terminates at a service (swift-nio-ssl): the server side, with optional client
/// certificates for RFC 8705 certificate-bound tokens, and the client side of internal calls
/// trusting an extra CA.
///
/// Client certificates are requested and, when presented, verified against the configured CA
/// (`optionalVerification`: a client without a certificate still connects and simply gets
/// unbound tokens). The certificate's SHA-256 thumbprint (`x5t#S256`, RFC 8705 §3.1) is what the
/// request context exposes.
enum TLSSetup {
    /// Whether this process asks for client certificates (read per request by the context).
    static let clientCertificatesEnabled = Atomic<Bool>(false)

    static func serverConfiguration(_ files: ServiceConfig.TLSFiles) throws -> TLSConfiguration {
        let chain = try NIOSSLCertificate.fromPEMFile(files.certificatePath).map { NIOSSLCertificateSource.certificate($0) }
        let key = try NIOSSLPrivateKey(file: files.keyPath, format: .pem)
        var configuration = TLSConfiguration.makeServerConfiguration(certificateChain: chain, privateKey: .privateKey(key))
        configuration.minimumTLSVersion = .tlsv12
        if let clientCA = files.clientCAPath {
            configuration.certificateVerification = .optionalVerification
            configuration.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(clientCA))
            configuration.sendCANameList = true
        }
        return configuration
    }

    /// Clients made here live as long as the process (an HTTPClient must be shut down before it
    /// is released; keeping them avoids that).
    private static let clients = Mutex<[String: HTTPClient]>([:])

    static func httpClient(trusting path: String?) throws -> HTTPClient {
        guard let path else { return HTTPClient.shared }
        return try clients.withLock { clients in
            if let existing = clients[path] { return existing }
            var tls = TLSConfiguration.makeClientConfiguration()
            tls.additionalTrustRoots = [.certificates(try NIOSSLCertificate.fromPEMFile(path))]
            let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: HTTPClient.Configuration(tlsConfiguration: tls))
            clients[path] = client
            return client
        }
    }

    /// RFC 8705 §3.1: base64url SHA-256 of the DER certificate the client presented on this
    /// connection, if any (asked of the channel's TLS handler on its event loop).
    static func clientCertificateThumbprint(_ channel: any Channel) async -> String? {
        guard clientCertificatesEnabled.load(ordering: .relaxed),
            let certificate = try? await channel.nioSSL_peerCertificate().get(),
            let der = try? certificate.toDERBytes()
        else { return nil }
        return Base64URL.encode(SHA256.hash(data: der))
    }
}
