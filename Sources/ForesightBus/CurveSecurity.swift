import CZeroMQ

/// CURVE settings of one socket (ZeroMQ's own encryption and authentication, RFC 26).
///
/// A socket that binds is the CURVE server: it proves itself with `certificate` and asks the
/// context's ``ZapHandler`` (ZAP domain `domain`) whether each client key may come in — a server
/// socket refuses to open without a running handler, so nobody is ever admitted unchecked. A
/// socket that connects is a client: it proves itself with `certificate` and accepts only the
/// server whose public key is in `serverKeys` (one for all endpoints, or one per endpoint in
/// endpoint order).
public struct CurveSecurity: Sendable, Equatable {
    /// This socket's own key pair (must hold a secret key).
    public var certificate: CurveCertificate
    /// When connecting: the servers' public keys (Z85), one for every endpoint or one per endpoint.
    public var serverKeys: [String]
    /// When binding: the ZAP domain the handler checks (`inputs`, `output`, a command name).
    public var domain: String

    /// Creates the settings; `certificate` must hold a secret key.
    public init(certificate: CurveCertificate, serverKeys: [String] = [], domain: String = "foresight") throws(CertificateError) {
        guard certificate.secretKey != nil else {
            throw CertificateError(path: certificate.path, "holds no secret key; a CURVE socket needs its own NAME.key_secret")
        }
        self.certificate = certificate
        self.serverKeys = serverKeys
        self.domain = domain
    }

    /// The server key for the `index`-th endpoint.
    func serverKey(forEndpoint index: Int) -> String? {
        serverKeys.count == 1 ? serverKeys[0] : index < serverKeys.count ? serverKeys[index] : nil
    }

    /// Checks that the settings fit a socket with `endpointCount` endpoints in `mode`.
    public func check(endpointCount: Int, mode: EndpointMode) throws(CertificateError) {
        guard mode == .connect else { return }
        guard !serverKeys.isEmpty else {
            throw CertificateError(path: certificate.path, "a connecting CURVE socket needs the server's public certificate (server_certificate / --curve-server-key)")
        }
        guard serverKeys.count == 1 || serverKeys.count == endpointCount else {
            throw CertificateError(path: certificate.path, "\(serverKeys.count) server certificates for \(endpointCount) endpoints: give one for all, or one per endpoint in the order of the endpoints")
        }
    }
}

/// Socket options every Foresight socket gets, with or without CURVE: a peer that sends a
/// message larger than the largest legal one is disconnected (`ZMQ_MAXMSGSIZE`), dead TCP peers
/// are noticed (`ZMQ_HEARTBEAT_*`), a peer that never finishes its handshake is dropped
/// (`ZMQ_HANDSHAKE_IVL`).
public struct SocketHardening: Sendable, Equatable {
    /// `ZMQ_MAXMSGSIZE`: the largest inbound message (frame) in bytes; -1 for no limit.
    public var maxMessageSize: Int64
    /// `ZMQ_HEARTBEAT_IVL`: ms between ZMTP PINGs (0 = off).
    public var heartbeatIntervalMs: Int32 = 2_000
    /// `ZMQ_HEARTBEAT_TIMEOUT`: ms without any traffic after a PING before the peer is dropped.
    public var heartbeatTimeoutMs: Int32 = 6_000
    /// `ZMQ_HEARTBEAT_TTL`: ms the peer should wait for our traffic before dropping us.
    public var heartbeatTTLMs: Int32 = 6_000
    /// `ZMQ_HANDSHAKE_IVL`: ms a new connection has to complete its (CURVE) handshake.
    public var handshakeTimeoutMs: Int32 = 5_000

    /// Hardening with `maxMessageSize` bytes as the largest inbound message.
    public init(maxMessageSize: Int64) {
        self.maxMessageSize = maxMessageSize
    }

    /// For a subscriber: the largest legal payload (`WireLimits.maxPayloadBytes`, 64 MiB by default).
    public static let subscriber = SocketHardening(maxMessageSize: 64 << 20)
    /// For a publisher: inbound traffic is subscriptions and ZMTP commands only (a few bytes each).
    public static let publisher = SocketHardening(maxMessageSize: 64 << 10)

    func apply(to socket: ZMQSocket) throws(BusError) {
        try socket.set(ZMQ_MAXMSGSIZE, int64: maxMessageSize, name: "ZMQ_MAXMSGSIZE")
        if heartbeatIntervalMs > 0 {
            try socket.set(ZMQ_HEARTBEAT_IVL, heartbeatIntervalMs, name: "ZMQ_HEARTBEAT_IVL")
            try socket.set(ZMQ_HEARTBEAT_TIMEOUT, heartbeatTimeoutMs, name: "ZMQ_HEARTBEAT_TIMEOUT")
            try socket.set(ZMQ_HEARTBEAT_TTL, heartbeatTTLMs, name: "ZMQ_HEARTBEAT_TTL")
        }
        try socket.set(ZMQ_HANDSHAKE_IVL, handshakeTimeoutMs, name: "ZMQ_HANDSHAKE_IVL")
    }
}

extension ZMQSocket {
    /// Sets an `int64_t` option.
    func set(_ option: Int32, int64 value: Int64, name: String) throws(BusError) {
        var v = value
        guard zmq_setsockopt(handle, option, &v, MemoryLayout<Int64>.size) == 0 else { throw BusError("setsockopt \(name)") }
    }

    /// Sets a string option (Z85 keys, the ZAP domain).
    func set(_ option: Int32, string value: String, name: String) throws(BusError) {
        let bytes = Array(value.utf8)
        let rc = bytes.withUnsafeBytes { zmq_setsockopt(handle, option, $0.baseAddress, $0.count) }
        guard rc == 0 else { throw BusError("setsockopt \(name)") }
    }

    /// Applies hardening and CURVE, then binds or connects every endpoint (CURVE clients get each
    /// endpoint's server key just before its connect); returns the endpoints as attached.
    func open(_ endpoints: [String], mode: EndpointMode, hardening: SocketHardening?, curve: CurveSecurity?) throws(BusError) -> [String] {
        try hardening?.apply(to: self)
        if let curve {
            guard let secret = curve.certificate.secretKey else { throw BusError("CURVE without a secret key", errno: EINVAL) }
            try set(ZMQ_CURVE_PUBLICKEY, string: curve.certificate.publicKey, name: "ZMQ_CURVE_PUBLICKEY")
            try set(ZMQ_CURVE_SECRETKEY, string: secret, name: "ZMQ_CURVE_SECRETKEY")
            if mode == .bind {
                // Fail closed: libzmq 4.3 admits every client when no ZAP handler answers.
                guard context.zapRunning else {
                    throw BusError("CURVE server without a running ZAP handler (nobody could be checked)", errno: EACCES)
                }
                try set(ZMQ_ZAP_DOMAIN, string: curve.domain, name: "ZMQ_ZAP_DOMAIN")
                try set(ZMQ_CURVE_SERVER, 1, name: "ZMQ_CURVE_SERVER")
            }
        }
        var resolved: [String] = []
        for (index, endpoint) in endpoints.enumerated() {
            if let curve, mode == .connect {
                guard let key = curve.serverKey(forEndpoint: index) else {
                    throw BusError("CURVE: no server key for endpoint \(index + 1)", endpoint: endpoint, errno: EINVAL)
                }
                try set(ZMQ_CURVE_SERVERKEY, string: key, name: "ZMQ_CURVE_SERVERKEY")
            }
            try attach(endpoint, mode: mode)
            resolved.append(mode == .bind ? lastEndpoint : endpoint)
        }
        return resolved
    }
}
