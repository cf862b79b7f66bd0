import CZeroMQ
import Dispatch
import Foundation
import ForesightWire

/// What happened to a connection of a monitored socket (from `zmq_socket_monitor`).
public enum SocketEvent: Sendable, Equatable {
    /// A peer completed the ZMTP (and CURVE) handshake.
    case handshakeSucceeded(endpoint: String)
    /// A handshake failed before authentication: `reason` is ``SocketEvent/mechanismMismatch``
    /// (e.g. a plain client on a CURVE socket), ``SocketEvent/cryptographic`` (e.g. a client using
    /// the wrong server key), ``SocketEvent/handshakeIncomplete`` (timeout, peer gone) or
    /// ``SocketEvent/protocolError``.
    case handshakeFailed(reason: String, endpoint: String)
    /// Authentication refused the peer with a ZAP status code (400, 300, 500). On a server the
    /// ``ZapHandler`` counts these itself (with the key and reason); on a client it means the server refused us.
    case authenticationFailed(status: Int, endpoint: String)
    /// A connection ended (peer closed, heartbeat timeout, or a protocol error such as a message
    /// above `ZMQ_MAXMSGSIZE`).
    case disconnected(endpoint: String)

    /// `reason` of a plain (NULL) peer on a CURVE socket or the reverse.
    public static let mechanismMismatch = "mechanism_mismatch"
    /// `reason` of a handshake whose boxes did not open: usually a client with the wrong server key.
    public static let cryptographic = "cryptographic"
    /// `reason` of a handshake that did not finish (handshake timeout, peer left).
    public static let handshakeIncomplete = "handshake_incomplete"
    /// `reason` of any other ZMTP protocol violation during the handshake.
    public static let protocolError = "protocol_error"
}

/// Reads a socket's monitor events on its own thread (a PAIR socket connected to the
/// `zmq_socket_monitor` endpoint) and hands them to `sink`.
final class SocketMonitor: Sendable {
    private let stopping = Locked(false)
    private let finished = DispatchSemaphore(value: 0)

    /// The events Foresight watches.
    static let mask: Int32 = ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL
        | ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH | ZMQ_EVENT_DISCONNECTED
        | ZMQ_EVENT_MONITOR_STOPPED

    /// Starts monitoring `socket` (call on the socket's own thread, before it binds or connects).
    init(socket: ZMQSocket, sink: @escaping @Sendable (SocketEvent) -> Void) throws(BusError) {
        let address = "inproc://foresight-monitor-\(UInt64.random(in: 0 ... .max))"
        guard zmq_socket_monitor(socket.handle, address, Self.mask) == 0 else { throw BusError("zmq_socket_monitor", endpoint: address) }
        let context = socket.context
        let stopping = self.stopping, finished = self.finished
        let ready = DispatchSemaphore(value: 0)
        let failure = Locked<BusError?>(nil)
        let thread = Thread {
            let pair: ZMQSocket
            do throws(BusError) {
                pair = try ZMQSocket(.pair, context: context)
                try pair.set(ZMQ_RCVTIMEO, 100, name: "ZMQ_RCVTIMEO")
                try pair.attach(address, mode: .connect)
            } catch {
                failure.withLock { $0 = error }
                ready.signal()
                finished.signal()
                return
            }
            ready.signal()
            loop: while !stopping.current {
                switch pair.receive(maxFrames: 2) {
                case .message(let frames):
                    guard frames.count == 2, frames[0].count >= 6 else { continue }
                    let event = Int32(UInt16(frames[0][0]) | UInt16(frames[0][1]) << 8)
                    let value = UInt32(frames[0][2]) | UInt32(frames[0][3]) << 8 | UInt32(frames[0][4]) << 16 | UInt32(frames[0][5]) << 24
                    let endpoint = String(decoding: frames[1], as: UTF8.self)
                    if event == ZMQ_EVENT_MONITOR_STOPPED { break loop }
                    if let decoded = Self.decode(event: event, value: value, endpoint: endpoint) { sink(decoded) }
                case .timeout:
                    continue
                case .terminated:
                    break loop
                }
            }
            pair.close(lingerMs: 0)
            finished.signal()
        }
        thread.name = "foresight-monitor"
        thread.start()
        ready.wait()
        if let error = failure.current { throw error }
    }

    static func decode(event: Int32, value: UInt32, endpoint: String) -> SocketEvent? {
        switch event {
        case ZMQ_EVENT_HANDSHAKE_SUCCEEDED: return .handshakeSucceeded(endpoint: endpoint)
        case ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL:
            let code = Int32(bitPattern: value)
            let reason = code == ZMQ_PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH ? SocketEvent.mechanismMismatch
                : code == ZMQ_PROTOCOL_ERROR_ZMTP_CRYPTOGRAPHIC ? SocketEvent.cryptographic : SocketEvent.protocolError
            return .handshakeFailed(reason: reason, endpoint: endpoint)
        case ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL: return .handshakeFailed(reason: SocketEvent.handshakeIncomplete, endpoint: endpoint)
        case ZMQ_EVENT_HANDSHAKE_FAILED_AUTH: return .authenticationFailed(status: Int(value), endpoint: endpoint)
        case ZMQ_EVENT_DISCONNECTED: return .disconnected(endpoint: endpoint)
        default: return nil
        }
    }

    /// Stops the thread (after the monitored socket closed, or at once) and waits for it. Idempotent.
    func stop() {
        let first = stopping.withLock { s -> Bool in defer { s = true }; return !s }
        if first { finished.wait() }
    }
}
