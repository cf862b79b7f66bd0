import Foundation

/// Where one socket's CURVE certificates are (a launch-file side's `security.curve`, or a
/// command's `--curve-*` options), before they are read.
public struct CurveFiles: Sendable, Equatable {
    /// This side's own key pair (`NAME.key_secret`, mode 0600).
    public var certificate: String
    /// When connecting: the servers' public certificates (`NAME.key`), one for every endpoint or
    /// one per endpoint in endpoint order.
    public var serverCertificates: [String]
    /// When binding: the folder of public certificates (`*.key`) of the clients allowed in.
    public var allowedClients: String?

    /// Creates the file set.
    public init(certificate: String, serverCertificates: [String] = [], allowedClients: String? = nil) {
        self.certificate = certificate
        self.serverCertificates = serverCertificates
        self.allowedClients = allowedClients
    }

    /// The loaded settings of one socket: its ``CurveSecurity`` and, when it binds, its allow-list.
    public struct Loaded: Sendable, Equatable {
        /// The socket's CURVE settings.
        public var security: CurveSecurity
        /// The public keys (Z85) allowed in when the socket binds; nil when it connects.
        public var allowed: Set<String>?
        /// The allow-list's certificates by key, for logs (key → file).
        public var allowedFiles: [String: String]
    }

    /// Reads and checks every file for a socket in `mode` with `endpointCount` endpoints and ZAP
    /// domain `domain`. Every problem names its file; nothing is bound before this succeeds.
    public func load(domain: String, mode: EndpointMode, endpointCount: Int) throws(CertificateError) -> Loaded {
        let own = try CurveCertificate.load(path: certificate, requireSecret: true)
        var serverKeys: [String] = []
        for path in serverCertificates { serverKeys.append(try CurveCertificate.load(path: path, requireSecret: false).publicKey) }
        let security = try CurveSecurity(certificate: own, serverKeys: serverKeys, domain: domain)
        switch mode {
        case .connect:
            if let allowedClients {
                throw CertificateError(path: allowedClients, "allowed_clients applies to a side that binds (a CURVE server); this side connects, so give server_certificate instead")
            }
            try security.check(endpointCount: endpointCount, mode: .connect)
            return Loaded(security: security, allowed: nil, allowedFiles: [:])
        case .bind:
            guard let allowedClients else {
                throw CertificateError(path: certificate, "a side that binds with CURVE needs allowed_clients (a folder of the clients' public NAME.key files); an empty folder admits nobody")
            }
            if let first = serverCertificates.first {
                throw CertificateError(path: first, "server_certificate applies to a side that connects; this side binds (it is the CURVE server)")
            }
            let (keys, files) = try Self.allowList(folder: allowedClients)
            return Loaded(security: security, allowed: keys, allowedFiles: files)
        }
    }

    /// The public keys of every `*.key` in `folder`, and the file of each.
    public static func allowList(folder: String) throws(CertificateError) -> (Set<String>, [String: String]) {
        var keys: Set<String> = [], files: [String: String] = [:]
        for certificate in try CurveCertificate.loadFolder(path: folder) {
            keys.insert(certificate.publicKey)
            files[certificate.publicKey] = certificate.path
        }
        return (keys, files)
    }
}
