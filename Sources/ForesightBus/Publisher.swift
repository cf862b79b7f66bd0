import CZeroMQ
import Dispatch
import Foundation
import ForesightWire

/// A PUB socket on its own thread. `send` is thread-safe and never blocks: messages go into a
/// bounded queue that the socket thread drains; when it is full the oldest message is dropped
/// and counted (as PUB itself does beyond its high-water mark).
public final class Publisher: Sendable {
    /// Publisher settings.
    public struct Options: Sendable {
        /// Bind (default for publishers) or connect.
        public var mode: EndpointMode = .bind
        /// ZMQ_SNDHWM: messages zmq buffers per subscriber before dropping (default 1000).
        public var sendHighWaterMark: Int32 = 1000
        /// Messages waiting for the socket thread before the oldest is dropped.
        public var queueCapacity: Int = 4096
        /// ZMQ_LINGER at close, milliseconds: how long unsent messages may delay shutdown.
        public var lingerMs: Int32 = 1000
        /// CURVE encryption and authentication (nil: plain ZMTP).
        public var curve: CurveSecurity?
        /// Inbound size limit, heartbeats and handshake timeout (nil leaves libzmq's defaults).
        public var hardening: SocketHardening? = .publisher
        /// Receives the socket's connection events (handshakes, refusals, disconnects) on a monitor thread.
        public var events: (@Sendable (SocketEvent) -> Void)?

        /// Default options.
        public init() {}
    }

    private struct State {
        var queue: [[[UInt8]]] = []
        var closing = false
        var enqueued: Int64 = 0
        var dropped: Int64 = 0
        var sent: Int64 = 0
        var failed: Int64 = 0
    }

    /// The endpoints as bound or connected (wildcard ports resolved when binding).
    public let endpoints: [String]
    private let state = Locked(State())
    private let wake = DispatchSemaphore(value: 0)
    private let finished = DispatchSemaphore(value: 0)
    private let options: Options

    /// Opens a PUB socket on `endpoints` on a new thread; throws if any bind/connect fails.
    public init(context: BusContext, endpoints: [String], options: Options = Options()) throws(BusError) {
        self.options = options
        let ready = DispatchSemaphore(value: 0)
        let outcome = Locked<Result<[String], BusError>?>(nil)
        let state = self.state, wake = self.wake, finished = self.finished
        let thread = Thread {
            let socket: ZMQSocket
            var monitor: SocketMonitor?
            let resolved: [String]
            do throws(BusError) {
                socket = try ZMQSocket(.pub, context: context)
                try socket.set(ZMQ_SNDHWM, options.sendHighWaterMark, name: "ZMQ_SNDHWM")
                if let sink = options.events { monitor = try SocketMonitor(socket: socket, sink: sink) }
                resolved = try socket.open(endpoints, mode: options.mode, hardening: options.hardening, curve: options.curve)
            } catch {
                outcome.withLock { $0 = .failure(error) }
                ready.signal()
                monitor?.stop()
                finished.signal()
                return
            }
            outcome.withLock { $0 = .success(resolved) }
            ready.signal()
            Publisher.drain(socket: socket, state: state, wake: wake, lingerMs: options.lingerMs)
            monitor?.stop()
            finished.signal()
        }
        thread.name = "foresight-pub"
        thread.start()
        ready.wait()
        switch outcome.withLock({ $0 }) {
        case .success(let resolved)?: self.endpoints = resolved
        case .failure(let error)?: throw error
        case nil: throw BusError("start publisher thread", errno: EINVAL)
        }
    }

    /// Convenience: one endpoint.
    public convenience init(context: BusContext, endpoint: String, options: Options = Options()) throws(BusError) {
        try self.init(context: context, endpoints: [endpoint], options: options)
    }

    private static func drain(socket: ZMQSocket, state: Locked<State>, wake: DispatchSemaphore, lingerMs: Int32) {
        while true {
            wake.wait()
            let (batch, closing) = state.withLock { s -> ([[[UInt8]]], Bool) in
                let batch = s.queue
                s.queue.removeAll(keepingCapacity: true)
                return (batch, s.closing)
            }
            var sent: Int64 = 0, failed: Int64 = 0
            for frames in batch {
                if socket.send(frames: frames, dontWait: false) { sent += 1 } else { failed += 1 }
            }
            state.withLock { $0.sent += sent; $0.failed += failed }
            if closing {
                socket.close(lingerMs: lingerMs)
                return
            }
        }
    }

    /// Queues one multipart message (topic frame, payload frame). Never blocks.
    public func send(topic: String, payload: [UInt8]) {
        send(frames: [Array(topic.utf8), payload])
    }

    /// Queues any multipart message. Never blocks; drops the oldest queued message when full.
    public func send(frames: [[UInt8]]) {
        let accepted = state.withLock { s -> Bool in
            guard !s.closing else { return false }
            if s.queue.count >= options.queueCapacity {
                s.queue.removeFirst()
                s.dropped += 1
            }
            s.queue.append(frames)
            s.enqueued += 1
            return true
        }
        if accepted { wake.signal() }
    }

    /// Sends everything queued, closes the socket (waiting at most the linger time) and joins the thread.
    /// Idempotent. Blocks the caller briefly: call it at shutdown, not on a hot path.
    public func close() {
        let first = state.withLock { s -> Bool in
            defer { s.closing = true }
            return !s.closing
        }
        guard first else { return }
        wake.signal()
        finished.wait()
    }

    /// Messages accepted by `send`, sent to zmq, dropped by the bounded queue, and refused by zmq.
    public var statistics: (enqueued: Int64, sent: Int64, dropped: Int64, failed: Int64) {
        state.withLock { ($0.enqueued, $0.sent, $0.dropped, $0.failed) }
    }

    deinit {
        close()
    }
}
