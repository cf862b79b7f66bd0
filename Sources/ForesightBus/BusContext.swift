import CZeroMQ
import ForesightWire

/// A ZeroMQ context. Sockets keep their context alive; it is terminated when the last one is gone.
///
/// `shutdown()` makes every blocked operation on its sockets return at once (ETERM); sockets
/// then close themselves on their own threads.
public final class BusContext: Sendable {
    nonisolated(unsafe) let handle: UnsafeMutableRawPointer
    /// Whether a ``ZapHandler`` answers on this context's `inproc://zeromq.zap.01` (CURVE server
    /// sockets refuse to open otherwise).
    let zap = Locked(false)

    /// Creates a context with `ioThreads` I/O threads (1 is right for a few hundred MB/s).
    public init(ioThreads: Int32 = 1) throws(BusError) {
        guard let handle = zmq_ctx_new() else { throw BusError("zmq_ctx_new") }
        zmq_ctx_set(handle, ZMQ_IO_THREADS, ioThreads)
        // Sockets must not keep the process alive forever at close.
        zmq_ctx_set(handle, ZMQ_BLOCKY, 0)
        self.handle = handle
    }

    /// Interrupts every blocking call on this context's sockets.
    public func shutdown() {
        zmq_ctx_shutdown(handle)
    }

    deinit {
        zmq_ctx_term(handle)
    }

    /// Whether a ZAP handler is answering authentication requests on this context.
    public var zapRunning: Bool { zap.current }

    /// The linked libzmq version, e.g. "4.3.4".
    public static var libraryVersion: String {
        var major: Int32 = 0, minor: Int32 = 0, patch: Int32 = 0
        zmq_version(&major, &minor, &patch)
        return "\(major).\(minor).\(patch)"
    }
}

/// Whether a socket binds (owns the address) or connects (to a peer that bound).
///
/// As is ZeroMQ custom, publishers bind and subscribers connect by default.
public enum EndpointMode: String, Sendable, CaseIterable {
    /// `zmq_bind`.
    case bind
    /// `zmq_connect`.
    case connect
}

/// The socket types Foresight uses.
public enum SocketKind: Sendable {
    /// Publisher.
    case pub
    /// Subscriber.
    case sub
    /// Publisher that sees subscriptions (proxy backend).
    case xpub
    /// Subscriber that forwards subscriptions (proxy frontend).
    case xsub
    /// Exclusive pair (socket monitors).
    case pair
    /// Reply socket (the ZAP handler).
    case rep

    var zmqType: Int32 {
        switch self {
        case .pub: return ZMQ_PUB
        case .sub: return ZMQ_SUB
        case .xpub: return ZMQ_XPUB
        case .xsub: return ZMQ_XSUB
        case .pair: return ZMQ_PAIR
        case .rep: return ZMQ_REP
        }
    }
}

/// A raw libzmq socket, confined to the one thread that creates, uses and closes it.
///
/// Not thread-safe, by design (zmq sockets are not): `Publisher`, `Subscriber` and `BusProxy`
/// each own one on a dedicated thread.
final class ZMQSocket {
    let handle: UnsafeMutableRawPointer
    let context: BusContext
    private var closed = false

    init(_ kind: SocketKind, context: BusContext) throws(BusError) {
        guard let handle = zmq_socket(context.handle, kind.zmqType) else { throw BusError("socket") }
        self.handle = handle
        self.context = context
    }

    func set(_ option: Int32, _ value: Int32, name: String) throws(BusError) {
        var v = value
        guard zmq_setsockopt(handle, option, &v, MemoryLayout<Int32>.size) == 0 else { throw BusError("setsockopt \(name)") }
    }

    func subscribe(_ prefix: String) throws(BusError) {
        let bytes = Array(prefix.utf8)
        let rc = bytes.withUnsafeBytes { zmq_setsockopt(handle, ZMQ_SUBSCRIBE, $0.baseAddress, $0.count) }
        guard rc == 0 else { throw BusError("subscribe '\(prefix)'") }
    }

    func attach(_ endpoint: String, mode: EndpointMode) throws(BusError) {
        let rc = mode == .bind ? zmq_bind(handle, endpoint) : zmq_connect(handle, endpoint)
        guard rc == 0 else { throw BusError(mode.rawValue, endpoint: endpoint) }
    }

    /// The endpoint actually bound last (resolves `tcp://127.0.0.1:*` to a port).
    var lastEndpoint: String {
        var buffer = [CChar](repeating: 0, count: 1024)
        var size = buffer.count
        guard zmq_getsockopt(handle, ZMQ_LAST_ENDPOINT, &buffer, &size) == 0 else { return "" }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Sends one multipart message. Returns false if zmq refused (EAGAIN with DONTWAIT, ETERM).
    func send(frames: [[UInt8]], dontWait: Bool) -> Bool {
        for (i, frame) in frames.enumerated() {
            var flags: Int32 = dontWait ? ZMQ_DONTWAIT : 0
            if i < frames.count - 1 { flags |= ZMQ_SNDMORE }
            let rc = frame.withUnsafeBytes { zmq_send(handle, $0.baseAddress, $0.count, flags) }
            if rc < 0 { return false }
        }
        return true
    }

    enum Receive {
        case message([[UInt8]])
        case timeout
        case terminated
    }

    /// Receives one multipart message, copying every frame out of zmq's buffers.
    func receive(maxFrames: Int) -> Receive {
        var frames: [[UInt8]] = []
        var extraFrames = 0
        while true {
            var msg = zmq_msg_t()
            zmq_msg_init(&msg)
            defer { zmq_msg_close(&msg) }
            let rc = zmq_msg_recv(&msg, handle, 0)
            if rc < 0 {
                let err = zmq_errno()
                if err == EAGAIN && frames.isEmpty { return .timeout }
                if err == EINTR && frames.isEmpty { continue }
                if err == ETERM { return .terminated }
                if frames.isEmpty { return .timeout }
                continue
            }
            if frames.count < maxFrames {
                let size = zmq_msg_size(&msg)
                if size > 0, let data = zmq_msg_data(&msg) {
                    frames.append(Array(UnsafeRawBufferPointer(start: data, count: size)))
                } else {
                    frames.append([])
                }
            } else {
                extraFrames += 1
            }
            if zmq_msg_more(&msg) == 0 { break }
        }
        if extraFrames > 0 { frames.append(contentsOf: repeatElement([], count: min(extraFrames, 1))) }
        return .message(frames)
    }

    func close(lingerMs: Int32) {
        guard !closed else { return }
        closed = true
        var linger = lingerMs
        zmq_setsockopt(handle, ZMQ_LINGER, &linger, MemoryLayout<Int32>.size)
        zmq_close(handle)
    }

    deinit {
        close(lingerMs: 0)
    }
}
