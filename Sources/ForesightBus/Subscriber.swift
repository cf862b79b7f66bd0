import CZeroMQ
import Dispatch
import Foundation
import ForesightWire

/// One multipart message as received.
public struct BusMessage: Sendable {
    /// Every frame of the message, copied out of zmq (a valid message has exactly two).
    public var frames: [[UInt8]]
    /// Wall-clock receive time, ns since the Unix epoch (MCAP `log_time`).
    public var receiveTime: Int64

    /// Creates a message.
    public init(frames: [[UInt8]], receiveTime: Int64) {
        self.frames = frames
        self.receiveTime = receiveTime
    }

    /// Frame 1 as UTF-8, if it is.
    public var topic: String? { frames.first.flatMap { String(validating: $0, as: UTF8.self) } }

    /// Frame 2, or empty when absent.
    public var payload: [UInt8] { frames.count > 1 ? frames[1] : [] }
}

/// A SUB socket on its own thread, delivering messages through a bounded `AsyncStream`.
///
/// The socket thread never waits for consumers: when the stream's buffer is full the oldest
/// message is dropped and counted. `close()` stops the thread within one receive timeout.
public final class Subscriber: Sendable {
    /// Subscriber settings.
    public struct Options: Sendable {
        /// Connect (default for subscribers) or bind.
        public var mode: EndpointMode = .connect
        /// Topic prefixes to subscribe to (zmq prefix match on frame 1). `[""]` takes everything.
        public var topics: [String] = [""]
        /// ZMQ_RCVHWM (default 1000 messages).
        public var receiveHighWaterMark: Int32 = 1000
        /// Messages buffered for the consumer before the oldest is dropped.
        public var bufferCapacity: Int = 1024
        /// How often the thread checks for `close()`, milliseconds.
        public var pollIntervalMs: Int32 = 100
        /// Frames kept per message; a message with more is delivered with `maxFrames + 1` frames
        /// (so the framing check rejects it) and its extra frames discarded unread.
        public var maxFrames: Int = 8
        /// CURVE encryption and authentication (nil: plain ZMTP).
        public var curve: CurveSecurity?
        /// Inbound size limit (set it from the largest legal message), heartbeats and handshake
        /// timeout (nil leaves libzmq's defaults).
        public var hardening: SocketHardening? = .subscriber
        /// Receives the socket's connection events (handshakes, refusals, disconnects) on a monitor thread.
        public var events: (@Sendable (SocketEvent) -> Void)?

        /// Default options.
        public init() {}
    }

    /// Received messages, in arrival order.
    public let messages: AsyncStream<BusMessage>
    /// The endpoints as connected or bound (wildcard ports resolved when binding).
    public let endpoints: [String]

    private let stopping = Locked(false)
    private let counts = Locked<(received: Int64, dropped: Int64)>((0, 0))
    private let finished = DispatchSemaphore(value: 0)

    /// Opens a SUB socket on `endpoints` on a new thread; throws if any connect/bind fails.
    public init(context: BusContext, endpoints: [String], options: Options = Options()) throws(BusError) {
        let (stream, continuation) = AsyncStream<BusMessage>.makeStream(bufferingPolicy: .bufferingNewest(max(1, options.bufferCapacity)))
        messages = stream
        let ready = DispatchSemaphore(value: 0)
        let outcome = Locked<Result<[String], BusError>?>(nil)
        let stopping = self.stopping, counts = self.counts, finished = self.finished
        let thread = Thread {
            let socket: ZMQSocket
            var monitor: SocketMonitor?
            let resolved: [String]
            do throws(BusError) {
                socket = try ZMQSocket(.sub, context: context)
                try socket.set(ZMQ_RCVHWM, options.receiveHighWaterMark, name: "ZMQ_RCVHWM")
                try socket.set(ZMQ_RCVTIMEO, options.pollIntervalMs, name: "ZMQ_RCVTIMEO")
                for topic in options.topics { try socket.subscribe(topic) }
                if let sink = options.events { monitor = try SocketMonitor(socket: socket, sink: sink) }
                resolved = try socket.open(endpoints, mode: options.mode, hardening: options.hardening, curve: options.curve)
            } catch {
                outcome.withLock { $0 = .failure(error) }
                continuation.finish()
                ready.signal()
                monitor?.stop()
                finished.signal()
                return
            }
            outcome.withLock { $0 = .success(resolved) }
            ready.signal()
            loop: while !stopping.withLock({ $0 }) {
                switch socket.receive(maxFrames: options.maxFrames) {
                case .message(let frames):
                    let message = BusMessage(frames: frames, receiveTime: wallClockNanoseconds())
                    let dropped: Int64
                    if case .dropped = continuation.yield(message) { dropped = 1 } else { dropped = 0 }
                    counts.withLock { $0.received += 1; $0.dropped += dropped }
                case .timeout:
                    continue
                case .terminated:
                    break loop
                }
            }
            socket.close(lingerMs: 0)
            monitor?.stop()
            continuation.finish()
            finished.signal()
        }
        thread.name = "foresight-sub"
        thread.start()
        ready.wait()
        switch outcome.withLock({ $0 }) {
        case .success(let resolved)?: self.endpoints = resolved
        case .failure(let error)?: throw error
        case nil: throw BusError("start subscriber thread", errno: EINVAL)
        }
    }

    /// Convenience: one endpoint.
    public convenience init(context: BusContext, endpoint: String, options: Options = Options()) throws(BusError) {
        try self.init(context: context, endpoints: [endpoint], options: options)
    }

    /// Stops receiving, closes the socket, ends `messages` and joins the thread. Idempotent.
    public func close() {
        let first = stopping.withLock { s -> Bool in
            defer { s = true }
            return !s
        }
        if first { finished.wait() }
    }

    /// Messages received from zmq, and dropped because the consumer was behind.
    public var statistics: (received: Int64, dropped: Int64) {
        counts.withLock { $0 }
    }

    deinit {
        close()
    }
}
